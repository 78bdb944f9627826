/**
 * A run across machines (processes): its journal is in PostgreSQL, its shards
 * in a folder every participant shares or in a bucket. The owner's folder
 * records which run it belongs to (`.longhaul/store.json`), so the owner
 * resumes the same run with the same command, a worker pointed at the wrong
 * folder is refused, and `verify` finds the journal.
 */
import { randomUUID } from 'node:crypto'
import { existsSync, mkdirSync, rmSync } from 'node:fs'
import { hostname, tmpdir } from 'node:os'
import { FingerprintMismatchError, JournalError, UsageError } from '../../errors.ts'
import { type RunPaths, runPaths } from '../../files/runDir.ts'
import type { JobIdentity } from '../../job/fingerprint.ts'
import {
  databaseTarget,
  type JournalDatabase,
  type JournalDatabaseAddress,
  openStore,
} from '../../journal/openStore.ts'
import { readStoreLink, type StoreLink, writeStoreLink } from '../../journal/runJournal.ts'
import { claimNameOf, type RunRecord } from '../../journal/store.ts'
import { assertSameJob, type IdentifiedJob, identifyJob } from '../../run/identify.ts'
import type { OpenOptions, RunHome } from '../../run/openRun.ts'
import { takeOwnership } from '../../run/ownership.ts'
import { openBucketPlace } from '../../shards/bucket.ts'
import { folderPlace, type ShardPlace } from '../../shards/shardPlace.ts'
import { makeWorkerScratch } from './workerScratch.ts'

/** How a participant's journal waits for a database that stops answering mid-run. */
export type OutageOptions = Pick<JournalDatabaseAddress, 'waitForServerMs' | 'onOutage'>

/** The claim name of this process in a shared run. */
export function participantName(): string {
  return claimNameOf({ host: hostname(), pid: process.pid })
}

/** What to type on another machine to join the run. */
export function joinCommand(jobPath: string, sharedDir: string | undefined, storeUrl: string, runId: string): string {
  return `longhaul worker ${jobPath} --store ${withoutPassword(storeUrl)} --run ${runId}${sharedDir === undefined ? '' : ` --out ${sharedDir}`}`
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
    throw new UsageError(
      `${dir} holds a single-machine run (its journal is .longhaul/journal.sqlite); a run with --store needs its own --out folder.`,
      'LONGHAUL_OUT_DIR_UNUSABLE',
    )
  }
}

export interface SharedHomeOptions extends OpenOptions {
  readonly storeUrl: string
  readonly shards?: string | undefined
  readonly outage?: OutageOptions
}

/**
 * The home of a run whose journal is in PostgreSQL, as its owner opens it
 * (`longhaul run JOB --store URL --out DIR`): openRunDir creates the run in
 * the database, or resumes the one DIR records, and takes its owner lease.
 * The run id is written to DIR before the run is recorded, so a crash between
 * the two leaves nothing behind that the same command does not pick up.
 */
export function sharedHome(options: SharedHomeOptions): RunHome {
  const { outDir, storeUrl } = options
  refuseSqliteRun(outDir)
  const previous = readStoreLink(outDir)
  // --fresh: the run the folder records is set aside, and a new one starts.
  const link = options.fresh ? undefined : previous
  const runId = link?.runId ?? randomUUID()
  let store: JournalDatabase | undefined
  let place: ShardPlace | undefined
  return {
    where: `${outDir} (run ${runId})`,
    sameJobAdvice: 'Resume with the original job, params and seed, or choose a new --out folder for a new run.',
    async peek() {
      await databaseTarget(storeUrl)
      refuseLink(options, previous, link)
      try {
        store = await openStore({ url: storeUrl, ...options.outage, ...(link && { runId }) })
      } catch (error) {
        // The folder names a run the database does not hold: the first attempt stopped before recording it.
        if (!(error instanceof JournalError) || !/^no run /.test(error.message)) throw error
        store = await openStore({ url: storeUrl, ...options.outage })
      }
      return await store.getRun()
    },
    async prepare() {
      // The bucket answers before anything is set aside, created or leased.
      place =
        options.shards !== undefined
          ? await openBucketPlace(options.shards, runPaths(outDir).data)
          : folderPlace(runPaths(outDir).data)
      if (previous && !link) await setAside(previous, storeUrl, outDir, options.leaseTtlMs, options.now())
      return previous !== undefined && !link
    },
    async open(paths) {
      // The folder names the run before the database records it: a crash in between is picked up by the same command.
      if (!link)
        writeStoreLink(paths, {
          store: withoutPassword(storeUrl),
          runId,
          ...(options.shards && { shards: options.shards }),
        })
      return store!
    },
    newRunId: () => runId,
    async recorded(opened) {
      // Before any work, so a worker that joins knows where shards go (again on resume, if a crash came in between).
      if (options.shards) await opened.setShardsAt(options.shards, options.now())
    },
    place: () => place!,
    async abandon() {
      place?.close()
      await store?.close()
    },
  }
}

/** Refuses a folder that records another run than the one asked for: of another database, or with its shards elsewhere. */
function refuseLink(options: SharedHomeOptions, previous: StoreLink | undefined, link: StoreLink | undefined): void {
  const { outDir, storeUrl } = options
  if (options.fresh && previous?.shards) {
    throw new UsageError(
      `--fresh cannot set aside run '${previous.runId}': its shards are in ${previous.shards}, and a bucket has no folder to move aside. Start the new run with a new --out prefix (and a new --local folder).`,
    )
  }
  if (link && link.store !== withoutPassword(storeUrl)) {
    throw new UsageError(
      `${outDir} belongs to run '${link.runId}' of ${link.store}, not of the --store given: pass --store ${link.store} (its password from PGPASSWORD or ~/.pgpass), or choose a new --out folder.`,
    )
  }
  if (link && link.shards !== options.shards) {
    const was = link.shards ?? `${outDir}/data`
    throw new UsageError(
      `run '${link.runId}' keeps its shards in ${was}, not ${options.shards ?? `${outDir}/data`}: resume it with the --out it was started with, or choose a new folder for a new run.`,
    )
  }
}

/**
 * --fresh on a shared run's folder: the run recorded there is left in the
 * database, never deleted, with a `set-aside` event, and the caller moves the
 * folder aside. Only a complete run is set aside: while a run is unfinished,
 * a worker may be waiting for an expired claim (holding nothing) and would go
 * on writing into the folder's path, which would then be the new run's. A
 * live owner refuses it too (one-owner).
 */
async function setAside(
  link: StoreLink,
  storeUrl: string,
  dir: string,
  leaseTtlMs: number,
  now: number,
): Promise<void> {
  let store: JournalDatabase
  try {
    store = await openStore({
      url: link.store === withoutPassword(storeUrl) ? storeUrl : link.store,
      runId: link.runId,
    })
  } catch (error) {
    // Never recorded (the first attempt stopped before): nothing to set aside but the folder.
    if (error instanceof JournalError && /^no run /.test(error.message)) return
    throw error
  }
  try {
    const run = await store.getRun()
    if (run && run.state !== 'complete') {
      const done = await store.committedItems()
      throw new UsageError(
        `--fresh would set aside run '${link.runId}', which is not complete (${done} of ${run.total} items): workers that joined it may still write into ${dir}. ` +
          'Let it complete (run the same command without --fresh), or start the new run in a new --out folder.',
        'LONGHAUL_RUN_OWNED',
      )
    }
    const lease = await takeOwnership(store, dir, leaseTtlMs, now)
    try {
      await store.addEvent('set-aside', { reason: '--fresh', folder: dir }, now)
    } finally {
      await store.releaseOwner(lease.token)
    }
  } finally {
    await store.close()
  }
}

export interface JoinTarget {
  readonly jobPath: string
  /** The shared folder; for a run whose shards go to a bucket, a local folder (optional) where shards wait for their upload. */
  readonly outDir: string | undefined
  readonly storeUrl: string
  readonly runId: string
  readonly outage?: OutageOptions
}

/** A run a worker joined: the job as the run defines it, the journal, the shared folder (or the local one, with a bucket). */
export interface JoinedRun extends IdentifiedJob {
  readonly store: JournalDatabase
  readonly run: RunRecord
  readonly paths: RunPaths
  /** Where committed shards live: the shared folder's data/, or the run's bucket. */
  readonly place: ShardPlace
  /** A temporary folder made for this process (a bucket run's worker stages its shards there), removed when it ends. */
  readonly scratch: string | undefined
}

/**
 * The worker's side (`longhaul worker JOB --store URL --run ID --out DIR`):
 * attaches to a run that exists, with the job's params and seed taken from
 * the run, and refuses a job whose fingerprint differs (its code, its
 * lockfile, its input) or a folder that is not the run's.
 */
export async function joinSharedRun(target: JoinTarget): Promise<JoinedRun> {
  if (target.outDir !== undefined) refuseSqliteRun(target.outDir)
  const store = await openStore({ url: target.storeUrl, ...target.outage, runId: target.runId })
  let scratch: string | undefined
  try {
    const run = (await store.getRun())!
    const stored = JSON.parse(run.identity) as JobIdentity
    if (run.kind !== 'map' || typeof stored.sources !== 'object' || stored.sources === null) {
      throw new UsageError(`run '${run.runId}' is not a map job's run: only map jobs (defineJob) take workers.`)
    }
    const where = `run '${run.runId}' in ${(await databaseTarget(target.storeUrl)).display}`
    const advice = "Give the worker the same job file, with the same code and lockfile, as the run's owner."
    const job = await identifyJob({
      jobPath: target.jobPath,
      params: stored.params as Record<string, unknown>,
      seed: stored.seed as number,
    }).catch((error: unknown) => {
      // The run's params do not even fit this job: another job, or another version of it.
      if (!(error instanceof UsageError) || error.code !== 'LONGHAUL_PARAMS_INVALID') throw error
      throw new FingerprintMismatchError(
        where,
        [`the run's params do not fit ${target.jobPath} (${error.message})`],
        advice,
      )
    })
    assertSameJob(where, run, job.identity, job.fingerprint, advice)
    const shards = run.shardsAt ?? undefined
    if (shards) {
      // Shards go to the bucket: this process stages them in a fresh folder of its own (inside --out if given),
      // so that no other process's staged shards are ever taken for debris.
      if (target.outDir !== undefined && readStoreLink(target.outDir)) {
        throw new UsageError(
          `${target.outDir} is the local folder of the run's owner: a worker of a run whose shards are in ${shards} needs no --out, or one of its own.`,
          'LONGHAUL_OUT_DIR_UNUSABLE',
        )
      }
      if (target.outDir !== undefined) mkdirSync(target.outDir, { recursive: true })
      scratch = makeWorkerScratch(target.outDir ?? tmpdir())
      const paths = runPaths(scratch)
      mkdirSync(paths.data, { recursive: true })
      return { ...job, store, run, paths, place: await openBucketPlace(shards, paths.data), scratch }
    }
    if (target.outDir === undefined) {
      throw new UsageError(
        `run '${run.runId}' keeps its shards in a folder every machine shares: give it with --out, as this machine sees it.`,
      )
    }
    const link = readStoreLink(target.outDir)
    if (link?.runId !== run.runId) {
      throw new UsageError(
        link
          ? `${target.outDir} is the folder of run '${link.runId}', not of run '${run.runId}': give the --out folder the run's owner uses.`
          : `${target.outDir} is not the shared folder of run '${run.runId}' (no .longhaul/store.json there): give the --out folder the run's owner uses, on a filesystem every machine shares.`,
        'LONGHAUL_OUT_DIR_UNUSABLE',
      )
    }
    const paths = runPaths(target.outDir)
    return { ...job, store, run, paths, place: folderPlace(paths.data), scratch: undefined }
  } catch (error) {
    if (scratch !== undefined) rmSync(scratch, { recursive: true, force: true })
    await store.close()
    throw error
  }
}
