/**
 * A run across machines (processes): its journal is in PostgreSQL, its shards
 * in a folder every participant shares. The folder records which run it
 * belongs to (`.longhaul/store.json`), so the owner resumes the same run with
 * the same command, a worker pointed at the wrong folder is refused, and
 * `verify` finds the journal.
 */
import { randomUUID } from 'node:crypto'
import { existsSync } from 'node:fs'
import { hostname } from 'node:os'
import { FingerprintMismatchError, JournalError, UsageError } from '../errors.ts'
import { describeChanges, type JobIdentity } from '../job/fingerprint.ts'
import { targetOf } from '../store/postgres/connect.ts'
import { PostgresStore } from '../store/postgres/postgresStore.ts'
import { readStoreLink, writeStoreLink } from '../store/runJournal.ts'
import type { RunRecord } from '../store/store.ts'
import { identifyJob, type IdentifiedJob, type JobFacts, type OpenedRunDir, type OpenOptions } from './openRun.ts'
import { takeOwnership } from './ownership.ts'
import { prepareRunDir, runPaths, type RunPaths } from './runDir.ts'

/** The claim name of this process: unique per process across machines, since a heartbeat renews every claim of a name. */
export function participantName(): string {
  return `${hostname()}:${process.pid}`
}

/** What to type on another machine to join the run. */
export function joinCommand(jobPath: string, outDir: string, storeUrl: string, runId: string): string {
  return `longhaul worker ${jobPath} --store ${withoutPassword(storeUrl)} --run ${runId} --out ${outDir}`
}

/** The URL without its password, for the link file: PGPASSWORD or ~/.pgpass supply it again. */
function withoutPassword(url: string): string {
  try {
    const parsed = new URL(url)
    parsed.password = ''
    return parsed.toString()
  } catch {
    return url
  }
}

function refuseSqliteRun(dir: string): void {
  if (existsSync(runPaths(dir).journal)) {
    throw new UsageError(`${dir} holds a single-machine run (its journal is .longhaul/journal.sqlite); a run with --store needs its own --out folder.`, 'LONGHAUL_OUT_DIR_UNUSABLE')
  }
}

function assertSameJob(where: string, run: RunRecord, identity: JobIdentity, fingerprint: string, advice: string): void {
  if (run.fingerprint === fingerprint) return
  const changes = describeChanges(JSON.parse(run.identity) as JobIdentity, identity)
  throw new FingerprintMismatchError(where, changes.length ? changes : ['the job fingerprint differs'], advice)
}

/**
 * The owner's side (`longhaul run JOB --store URL --out DIR`): creates the run
 * in the database, or resumes the one DIR records, and takes its owner lease.
 * The run id is written to DIR before the run is recorded, so a crash between
 * the two leaves nothing behind that the same command does not pick up.
 */
export async function openSharedRunDir(options: OpenOptions & { readonly storeUrl: string }, job: JobFacts): Promise<OpenedRunDir> {
  const { outDir } = options
  if (options.fresh) throw new UsageError('--fresh with --store is not supported yet: choose a new --out folder for a new run.')
  refuseSqliteRun(outDir)
  targetOf(options.storeUrl)
  const link = readStoreLink(outDir)
  if (link && link.store !== withoutPassword(options.storeUrl)) {
    throw new UsageError(`${outDir} belongs to run '${link.runId}' of ${link.store}, not of the --store given: pass --store ${link.store} (its password from PGPASSWORD or ~/.pgpass), or choose a new --out folder.`)
  }
  const runId = link?.runId ?? randomUUID()
  let store: PostgresStore
  try {
    store = await PostgresStore.open(options.storeUrl, link && { runId })
  } catch (error) {
    // The folder names a run the database does not hold: the first attempt stopped before recording it.
    if (!(error instanceof JournalError) || !/^no run /.test(error.message)) throw error
    store = await PostgresStore.open(options.storeUrl)
  }
  try {
    let run = await store.getRun()
    const resumed = run !== undefined
    if (run) assertSameJob(`${outDir} (run ${runId})`, run, job.identity, job.fingerprint, 'Resume with the original job, params and seed, or choose a new --out folder for a new run.')
    const requested = options.total ?? run?.total ?? job.defaultTotal
    if (requested === undefined) throw new UsageError(`job '${job.name}' sets no total; pass --total N`)
    if (run && requested < run.total) {
      throw new UsageError(`${outDir} holds a run of ${run.total} items; --total can grow it but not shrink it (got ${requested}).`)
    }
    const clearance = options.gate
      ? await options.gate({ job: job.name, jobPath: options.jobPath, outDir, fingerprint: job.fingerprint, total: requested, params: job.params, seed: job.seed })
      : undefined
    const { paths } = prepareRunDir(outDir, false, new Date(options.now()))
    // The folder names the run before the database records it: a crash in between is picked up by the same command.
    if (!link) writeStoreLink(paths, { store: withoutPassword(options.storeUrl), runId })
    if (!run) {
      await store.createRun({ runId, job: job.name, fingerprint: job.fingerprint, identity: JSON.stringify(job.identity), total: requested, createdAt: options.now() })
    }
    const lease = await takeOwnership(store, outDir, options.leaseTtlMs, options.now())
    if (run && requested > run.total) {
      await store.extendTotal(requested, options.now())
      await store.addEvent('extended', { from: run.total, to: requested }, options.now())
    }
    run = (await store.getRun())!
    return { paths, store, lease, run, resumed, movedAsideTo: undefined, clearance }
  } catch (error) {
    await store.close()
    throw error
  }
}

export interface JoinTarget {
  readonly jobPath: string
  readonly outDir: string
  readonly storeUrl: string
  readonly runId: string
}

/** A run a worker joined: the job as the run defines it, the journal, the shared folder. */
export interface JoinedRun extends IdentifiedJob {
  readonly store: PostgresStore
  readonly run: RunRecord
  readonly paths: RunPaths
}

/**
 * The worker's side (`longhaul worker JOB --store URL --run ID --out DIR`):
 * attaches to a run that exists, with the job's params and seed taken from
 * the run, and refuses a job whose fingerprint differs (its code, its
 * lockfile, its input) or a folder that is not the run's.
 */
export async function joinSharedRun(target: JoinTarget): Promise<JoinedRun> {
  refuseSqliteRun(target.outDir)
  const store = await PostgresStore.open(target.storeUrl, { runId: target.runId })
  try {
    const run = (await store.getRun())!
    const stored = JSON.parse(run.identity) as JobIdentity
    if (typeof stored.sources !== 'object' || stored.sources === null || (stored.output as { kind?: string } | undefined)?.kind === 'loop') {
      throw new UsageError(`run '${run.runId}' is not a map job's run: only map jobs (defineJob) take workers.`)
    }
    const where = `run '${run.runId}' in ${targetOf(target.storeUrl).display}`
    const advice = 'Give the worker the same job file, with the same code and lockfile, as the run\'s owner.'
    const job = await identifyJob({ jobPath: target.jobPath, params: stored.params as Record<string, unknown>, seed: stored.seed as number }).catch((error: unknown) => {
      // The run's params do not even fit this job: another job, or another version of it.
      if (!(error instanceof UsageError) || error.code !== 'LONGHAUL_PARAMS_INVALID') throw error
      throw new FingerprintMismatchError(where, [`the run's params do not fit ${target.jobPath} (${error.message})`], advice)
    })
    assertSameJob(where, run, job.identity, job.fingerprint, advice)
    const link = readStoreLink(target.outDir)
    if (link?.runId !== run.runId) {
      throw new UsageError(
        link
          ? `${target.outDir} is the folder of run '${link.runId}', not of run '${run.runId}': give the --out folder the run's owner uses.`
          : `${target.outDir} is not the shared folder of run '${run.runId}' (no .longhaul/store.json there): give the --out folder the run's owner uses, on a filesystem every machine shares.`,
        'LONGHAUL_OUT_DIR_UNUSABLE',
      )
    }
    return { ...job, store, run, paths: runPaths(target.outDir) }
  } catch (error) {
    await store.close()
    throw error
  }
}
