import { randomUUID } from 'node:crypto'
import { FingerprintMismatchError, RunDamagedError, UsageError } from '../errors.ts'
import type { MapJob } from '../job/defineJob.ts'
import { isLoopJob, type LoopJob } from '../job/defineLoop.ts'
import {
  describeChanges,
  fingerprintOf,
  hashCode,
  hashLockfile,
  type JobIdentity,
  makeIdentity,
} from '../job/fingerprint.ts'
import type { InputScan } from '../job/inputs/input.ts'
import { loadAnyJob, loadJob } from '../job/loadJob.ts'
import { resolveParams } from '../job/params.ts'
import { SqliteStore } from '../store/sqlite/sqliteStore.ts'
import type { OwnerLease, RunRecord, Store } from '../store/store.ts'
import type { LaunchClearance } from '../telemetry/snapshot.ts'
import { takeOwnership } from './ownership.ts'
import { assertJournalHoldsShards, assertNoLiveOwner, assertRunLayout, dataNames, shardSuffixes } from './runDamage.ts'
import { hasRun, prepareRunDir, type RunPaths, runPaths } from './runDir.ts'

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

/** What the launch gate is shown before anything is written. */
export interface LaunchFacts {
  readonly job: string
  readonly jobPath: string
  readonly outDir: string
  readonly fingerprint: string
  readonly total: number
  readonly params: unknown
  readonly seed: number
  /** map: items 0 … total-1; loop: `total` steps. Absent means map. */
  readonly kind?: 'map' | 'loop'
  /** What the fingerprint is made of, so that a refusal can say what changed since a proof. */
  readonly identity?: JobIdentity
}

/** Decides whether a run may start: resolves with the clearance to record, or throws the refusal (invariant gate). */
export type LaunchGate = (facts: LaunchFacts) => Promise<LaunchClearance>

export interface OpenOptions extends RunTarget {
  readonly gate?: LaunchGate
  readonly leaseTtlMs: number
  readonly now: () => number
}

/** A run directory ready to work, whatever the job's kind: journal open, lease held, run recorded. */
export interface OpenedRunDir {
  readonly paths: RunPaths
  readonly store: Store
  readonly lease: OwnerLease
  readonly run: RunRecord
  readonly resumed: boolean
  readonly movedAsideTo: string | undefined
  /** What the launch gate decided; undefined when no gate was asked. */
  readonly clearance: LaunchClearance | undefined
}

/** A map job's run directory ready to work: job loaded, journal open, lease held, run recorded. */
export interface OpenRun extends OpenedRunDir {
  readonly job: MapJob
  readonly params: unknown
  readonly seed: number
  readonly input: InputScan | undefined
}

/** What opening a run directory needs to know of a job, whatever its kind. */
export interface JobFacts {
  readonly kind: 'map' | 'loop'
  readonly name: string
  readonly params: unknown
  readonly seed: number
  readonly identity: JobIdentity
  readonly fingerprint: string
  /** The total when neither `total` nor a run already in the folder gives one (the job's own, or the input's count). */
  readonly defaultTotal: number | undefined
}

/**
 * --fresh moves a run aside only when no live process owns it (invariant
 * one-owner). A damaged journal cannot say who owns the run: its
 * progress.json can, and a live owner there still refuses the move.
 */
async function assertNobodyRuns(dir: string, leaseTtlMs: number, now: number): Promise<void> {
  let store: SqliteStore
  try {
    store = SqliteStore.open(runPaths(dir).journal)
  } catch (error) {
    if (!(error instanceof RunDamagedError)) throw error
    assertNoLiveOwner(dir, now)
    return
  }
  try {
    if (!(await store.getRun())) return
    const lease = await takeOwnership(store, dir, leaseTtlMs, now)
    await store.releaseOwner(lease.token)
  } finally {
    await store.close()
  }
}

/** The job as it would run: loaded, params resolved, identity and fingerprint worked out. Writes nothing. */
export interface IdentifiedJob {
  readonly job: MapJob
  readonly params: unknown
  readonly seed: number
  readonly input: InputScan | undefined
  readonly identity: JobIdentity
  readonly fingerprint: string
}

/** Loads the job and works out its identity (invariant same-job-or-refuse); the launch gate and preflight use the same. */
export async function identifyJob(
  target: Pick<RunTarget, 'jobPath' | 'seed' | 'params' | 'total'>,
  totalFlag = '--total',
): Promise<IdentifiedJob> {
  const job = await loadJob(target.jobPath)
  const params = resolveParams(job, target.params ?? {})
  const seed = checkSeed(target.seed ?? job.seed)
  const input = job.input ? await job.input.scan() : undefined
  checkTotal(target.total, totalFlag)
  if (input && target.total !== undefined && target.total > input.count) {
    throw new UsageError(`${totalFlag} ${target.total} is more than the ${input.count} records of the input`)
  }
  const identity: JobIdentity = makeIdentity({
    job: job.name,
    sources: await hashCode(target.jobPath, job.files),
    params,
    seed,
    output: job.output.description,
    input: job.input && input ? { description: job.input.description, digest: input.digest } : null,
    lockfile: hashLockfile(target.jobPath),
  })
  return { job, params, seed, input, identity, fingerprint: fingerprintOf(identity) }
}

/** A loop job as it would run: loaded, params resolved, identity and fingerprint worked out. Writes nothing. */
export interface IdentifiedLoop {
  readonly job: LoopJob
  readonly params: unknown
  readonly seed: number
  readonly identity: JobIdentity
  readonly fingerprint: string
}

/** A loop has no output format of its own (its bytes are whatever its `save` returns); this marks the identity as a loop's, so a map job's run is never taken for one. */
const LOOP_OUTPUT = { kind: 'loop' } as const

/**
 * A loop's identity: its name, its code and local imports, params, seed and
 * lockfile, as for a map job. Its number of steps is not part of it, so a
 * finished loop may be continued with a larger `--total`.
 */
export async function identifyLoop(
  target: Pick<RunTarget, 'jobPath' | 'seed' | 'params' | 'total'>,
  totalFlag = '--total',
): Promise<IdentifiedLoop> {
  const job = await loadAnyJob(target.jobPath)
  if (!isLoopJob(job)) {
    throw new UsageError(
      `${target.jobPath} is a map job (defineJob), not a loop job (defineLoop).`,
      'LONGHAUL_JOB_INVALID',
    )
  }
  const params = resolveParams(job, target.params ?? {})
  const seed = checkSeed(target.seed ?? job.seed)
  checkTotal(target.total, totalFlag)
  const identity: JobIdentity = makeIdentity({
    job: job.name,
    sources: await hashCode(target.jobPath, job.files),
    params,
    seed,
    output: LOOP_OUTPUT,
    input: null,
    lockfile: hashLockfile(target.jobPath),
  })
  return { job, params, seed, identity, fingerprint: fingerprintOf(identity) }
}

function checkSeed(seed: number): number {
  if (!Number.isSafeInteger(seed) || seed < 0 || seed > 2 ** 32 - 1)
    throw new UsageError(`the seed must be a whole number from 0 to 4294967295, got ${seed}`)
  return seed
}

function checkTotal(total: number | undefined, totalFlag: string): void {
  if (total !== undefined && (!Number.isSafeInteger(total) || total <= 0)) {
    throw new UsageError(`${totalFlag} must be a whole number above 0, got ${total}`)
  }
}

/** The run already in `outDir`, read without changing anything; undefined when there is none. */
async function peekRun(outDir: string): Promise<RunRecord | undefined> {
  if (!hasRun(outDir)) return undefined
  const store = SqliteStore.open(runPaths(outDir).journal, { readonly: true })
  try {
    return await store.getRun()
  } finally {
    await store.close()
  }
}

/** Refuses a run of another job (invariant same-job-or-refuse), naming what changed; `advice` says what to do instead. */
export function assertSameJob(
  where: string,
  run: RunRecord | undefined,
  identity: JobIdentity,
  fingerprint: string,
  advice?: string,
): void {
  if (run && run.fingerprint !== fingerprint) {
    const changes = describeChanges(JSON.parse(run.identity) as JobIdentity, identity)
    throw new FingerprintMismatchError(where, changes.length ? changes : ['the job fingerprint differs'], advice)
  }
}

/**
 * Loads the map job, works out its identity, asks the launch gate, and opens
 * (or creates) its run in `outDir` (see openRunDir).
 */
export async function openRun(options: OpenOptions): Promise<OpenRun> {
  const { job, params, seed, input, identity, fingerprint } = await identifyJob(options)
  const opened = await openRunDir(options, {
    kind: 'map',
    name: job.name,
    params,
    seed,
    identity,
    fingerprint,
    defaultTotal: job.total ?? input?.count,
  })
  return { job, params, seed, input, ...opened }
}

/**
 * Asks the launch gate, and opens (or creates) the run of an identified job
 * in `outDir`: refusing a different job there (same-job-or-refuse), a live
 * owner (one-owner), or a total that shrinks. On any refusal the journal is
 * closed and nothing is changed. Map and loop jobs share it.
 */
export async function openRunDir(options: OpenOptions, job: JobFacts): Promise<OpenedRunDir> {
  const { params, seed, identity, fingerprint } = job
  const unit = job.kind === 'loop' ? 'steps' : 'items'
  const existing = options.fresh ? undefined : await peekRun(options.outDir)
  assertSameJob(options.outDir, existing, identity, fingerprint)
  const requested = options.total ?? existing?.total ?? job.defaultTotal
  if (requested === undefined)
    throw new UsageError(`job '${job.name}' sets no ${job.kind === 'loop' ? 'steps' : 'total'}; pass --total N`)
  const clearance = options.gate
    ? await options.gate({
        job: job.name,
        jobPath: options.jobPath,
        outDir: options.outDir,
        fingerprint,
        identity,
        total: requested,
        params,
        seed,
        ...(job.kind === 'loop' && { kind: 'loop' as const }),
      })
    : undefined
  if (options.fresh && hasRun(options.outDir)) await assertNobodyRuns(options.outDir, options.leaseTtlMs, options.now())
  // Without --fresh the folder is the run's: a damaged one is refused, naming the damage, before anything in it changes.
  if (!options.fresh) assertRunLayout(runPaths(options.outDir))

  const { paths, movedTo } = prepareRunDir(options.outDir, options.fresh ?? false, new Date(options.now()))
  const store = SqliteStore.open(paths.journal)
  try {
    // data/ is listed before the journal is read: a shard there was claimed in the journal before it was made.
    const names = job.kind === 'map' ? dataNames(paths) : []
    let run = await store.getRun()
    const resumed = run !== undefined
    if (job.kind === 'map') {
      assertJournalHoldsShards(
        paths,
        names,
        { run: resumed, frontier: await store.frontier(), ...(run && { total: run.total }) },
        shardSuffixes(identity.output),
      )
    }
    assertSameJob(options.outDir, run, identity, fingerprint)
    const total = options.total ?? run?.total ?? requested
    if (!run) {
      await store.createRun({
        runId: randomUUID(),
        job: job.name,
        fingerprint,
        identity: JSON.stringify(identity),
        total,
        createdAt: options.now(),
      })
      // Another process starting on the same new folder at the same moment may have recorded its run first: that one stands.
      assertSameJob(options.outDir, await store.getRun(), identity, fingerprint)
    } else if (total < run.total) {
      throw new UsageError(
        `${options.outDir} holds a run of ${run.total} ${unit}; --total can grow it but not shrink it (got ${total}). Use --fresh to start over.`,
      )
    }
    const lease = await takeOwnership(store, options.outDir, options.leaseTtlMs, options.now())
    if (run && total > run.total) {
      await store.extendTotal(total, options.now())
      await store.addEvent('extended', { from: run.total, to: total }, options.now())
    }
    run = (await store.getRun())!
    return { paths, store, lease, run, resumed, movedAsideTo: movedTo, clearance }
  } catch (error) {
    await store.close()
    throw error
  }
}
