import { randomUUID } from 'node:crypto'
import { UsageError, FingerprintMismatchError } from '../errors.ts'
import type { MapJob } from '../job/defineJob.ts'
import { describeChanges, fingerprintOf, hashSources, makeIdentity, type JobIdentity } from '../job/fingerprint.ts'
import type { InputScan } from '../job/inputs/input.ts'
import { loadJob } from '../job/loadJob.ts'
import { resolveParams } from '../job/params.ts'
import { SqliteStore } from '../store/sqlite/sqliteStore.ts'
import type { OwnerLease, RunRecord, Store } from '../store/store.ts'
import { takeOwnership } from './ownership.ts'
import { hasRun, prepareRunDir, runPaths, type RunPaths } from './runDir.ts'

/** Which job runs where, as the user asked. */
export interface RunTarget {
  readonly jobPath: string
  readonly outDir: string
  /** Items 0 … total-1. @default the job's `total`, or the run's on resume */
  readonly total?: number
  /** @default the job's `seed`, else 0 */
  readonly seed?: number
  readonly params?: Readonly<Record<string, unknown>>
  /** Move an existing run in outDir aside and start over. @default false */
  readonly fresh?: boolean
}

export interface OpenOptions extends RunTarget {
  readonly leaseTtlMs: number
  readonly now: () => number
}

/** A run directory ready to work: job loaded, journal open, lease held, run recorded. */
export interface OpenRun {
  readonly job: MapJob
  readonly params: unknown
  readonly seed: number
  readonly input: InputScan | undefined
  readonly paths: RunPaths
  readonly store: Store
  readonly lease: OwnerLease
  readonly run: RunRecord
  readonly resumed: boolean
  readonly movedAsideTo: string | undefined
}

/**
 * Loads the job, works out its identity, and opens (or creates) its run in
 * `outDir`: refusing a different job there (same-job-or-refuse), a live owner
 * (one-owner), or a total that shrinks. On any refusal the journal is closed
 * and nothing is changed.
 */
/** --fresh moves a run aside only when no live process owns it (invariant one-owner). */
async function assertNobodyRuns(dir: string, leaseTtlMs: number, now: number): Promise<void> {
  const store = SqliteStore.open(runPaths(dir).journal)
  try {
    if (!(await store.getRun())) return
    const lease = await takeOwnership(store, dir, leaseTtlMs, now)
    await store.releaseOwner(lease.token)
  } finally {
    await store.close()
  }
}

export async function openRun(options: OpenOptions): Promise<OpenRun> {
  const job = await loadJob(options.jobPath)
  const params = resolveParams(job, options.params ?? {})
  const seed = options.seed ?? job.seed
  if (!Number.isSafeInteger(seed) || seed < 0 || seed > 2 ** 32 - 1) throw new UsageError(`the seed must be a whole number from 0 to 4294967295, got ${seed}`)
  const input = job.input ? await job.input.scan() : undefined
  if (options.total !== undefined && (!Number.isSafeInteger(options.total) || options.total <= 0)) {
    throw new UsageError(`--total must be a whole number above 0, got ${options.total}`)
  }
  if (input && options.total !== undefined && options.total > input.count) {
    throw new UsageError(`--total ${options.total} is more than the ${input.count} records of the input`)
  }
  const identity: JobIdentity = makeIdentity({
    job: job.name,
    sources: await hashSources(options.jobPath),
    params,
    seed,
    output: job.output.description,
    input: job.input && input ? { description: job.input.description, digest: input.digest } : null,
  })
  const fingerprint = fingerprintOf(identity)
  const startsFresh = options.fresh === true || !hasRun(options.outDir)
  if (startsFresh && (options.total ?? job.total ?? input?.count) === undefined) {
    throw new UsageError(`job '${job.name}' sets no total; pass --total N`)
  }
  if (options.fresh && hasRun(options.outDir)) await assertNobodyRuns(options.outDir, options.leaseTtlMs, options.now())

  const { paths, movedTo } = prepareRunDir(options.outDir, options.fresh ?? false, new Date(options.now()))
  const store = SqliteStore.open(paths.journal)
  try {
    let run = await store.getRun()
    const resumed = run !== undefined
    if (run && run.fingerprint !== fingerprint) {
      const changes = describeChanges(JSON.parse(run.identity) as JobIdentity, identity)
      throw new FingerprintMismatchError(options.outDir, changes.length ? changes : ['the job fingerprint differs'])
    }
    const total = options.total ?? run?.total ?? job.total ?? input?.count
    if (total === undefined) throw new UsageError(`job '${job.name}' sets no total; pass --total N`)
    if (!run) {
      await store.createRun({ runId: randomUUID(), job: job.name, fingerprint, identity: JSON.stringify(identity), total, createdAt: options.now() })
    } else if (total < run.total) {
      throw new UsageError(`${options.outDir} holds a run of ${run.total} items; --total can grow it but not shrink it (got ${total}). Use --fresh to start over.`)
    }
    const lease = await takeOwnership(store, options.outDir, options.leaseTtlMs, options.now())
    if (run && total > run.total) {
      await store.extendTotal(total, options.now())
      await store.addEvent('extended', { from: run.total, to: total }, options.now())
    }
    run = (await store.getRun())!
    return { job, params, seed, input, paths, store, lease, run, resumed, movedAsideTo: movedTo }
  } catch (error) {
    await store.close()
    throw error
  }
}
