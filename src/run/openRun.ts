/**
 * Opening a run: one algorithm for every kind of job and every place its
 * journal lives. The launch gate is asked before anything is written; a run
 * of another job (same-job-or-refuse), a live owner (one-owner) or a total
 * that shrinks is refused; the folder is made ready, the run recorded and
 * its owner lease taken. Where the journal is and how the folder is made
 * ready is the RunHome's part: a SQLite file in the folder (localHome, here),
 * or a PostgreSQL run the folder links to (sharedHome, sharedRun.ts).
 */
import { randomUUID } from 'node:crypto'
import { RunDamagedError, UsageError } from '../errors.ts'
import { hasRun, prepareRunDir, type RunPaths, runPaths } from '../files/runDir.ts'
import type { JobIdentity } from '../job/fingerprint.ts'
import { type JournalFile, openStore } from '../journal/openStore.ts'
import type { OwnerLease, RunRecord, Store } from '../journal/store.ts'
import type { ShardPlace } from '../shards/shardPlace.ts'
import type { LaunchClearance } from '../telemetry/snapshot.ts'
import { assertSameJob, type LaunchGate, type RunTarget } from './identify.ts'
import { takeOwnership } from './ownership.ts'
import { assertJournalHoldsShards, assertNoLiveOwner, assertRunLayout, dataNames, shardSuffixes } from './runDamage.ts'

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

/** What opening a run directory needs to know of a job, whatever its kind. */
export interface JobFacts {
  readonly kind: 'map' | 'loop' | 'exec'
  readonly name: string
  readonly params: unknown
  readonly seed: number
  readonly identity: JobIdentity
  readonly fingerprint: string
  /** The total when neither `total` nor a run already in the folder gives one (the job's own, or the input's count). */
  readonly defaultTotal: number | undefined
}

/**
 * Where a run's journal lives and how its folder is made ready: what differs
 * between a run on one machine and the owner of a run shared by several
 * processes. openRunDir calls it in this order: peek, (the gate), prepare,
 * open, check, recorded; abandon when anything fails.
 */
export interface RunHome {
  /** Names the run in a refusal of another job. */
  readonly where: string
  /** Said after a refusal of another job. @default none */
  readonly sameJobAdvice?: string
  /** The run already there, read before the gate and without changing anything; undefined when none (or --fresh sets it aside). */
  peek(): Promise<RunRecord | undefined>
  /** After the gate, before the folder changes: refuses what cannot go ahead, sets a previous run aside. Returns whether the folder is to be moved aside. */
  prepare(): Promise<boolean>
  /** The journal, open for writing, once the folder is ready. */
  open(paths: RunPaths): Promise<Store>
  /** Checks the folder against the journal before the run is recorded. @default no check */
  check?(run: RunRecord | undefined): Promise<void>
  /** The id a new run is recorded under. */
  newRunId(): string
  /** Once the run is recorded, before the lease is taken. @default nothing */
  recorded?(store: Store): Promise<void>
  /** Where a map run's committed shards go, once the folder is ready. @default the folder's data/ */
  place?(paths: RunPaths): ShardPlace
  /** Lets go of what it opened, after a refusal or a failure. */
  abandon(): Promise<void>
}

/**
 * Asks the launch gate, and opens (or creates) the run of an identified job
 * in `home`: refusing a different job there (same-job-or-refuse), a live
 * owner (one-owner), or a total that shrinks. On any refusal what was opened
 * is let go and nothing is changed. Map and loop jobs, local and shared runs
 * share it; the home defaults to a journal file in `outDir`.
 */
export async function openRunDir(
  options: OpenOptions,
  job: JobFacts,
  home: RunHome = localHome(options, job),
): Promise<OpenedRunDir> {
  const { params, seed, identity, fingerprint } = job
  const unit = job.kind === 'loop' ? 'steps' : 'items'
  const refuseShrink = (run: RunRecord | undefined, total: number): void => {
    if (run && total < run.total)
      throw new UsageError(
        `${options.outDir} holds a run of ${run.total} ${unit}; --total can grow it but not shrink it (got ${total}). Use --fresh to start over.`,
      )
  }
  try {
    const existing = await home.peek()
    assertSameJob(home.where, existing, identity, fingerprint, home.sameJobAdvice)
    const requested = options.total ?? existing?.total ?? job.defaultTotal
    if (requested === undefined)
      throw new UsageError(`job '${job.name}' sets no ${job.kind === 'loop' ? 'steps' : 'total'}; pass --total N`)
    refuseShrink(existing, requested)
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
          kind: job.kind,
        })
      : undefined
    const moveAside = await home.prepare()
    const { paths, movedTo } = prepareRunDir(options.outDir, moveAside, new Date(options.now()))
    const store = await home.open(paths)
    let run = await store.getRun()
    const resumed = run !== undefined
    await home.check?.(run)
    assertSameJob(home.where, run, identity, fingerprint, home.sameJobAdvice)
    const total = options.total ?? run?.total ?? requested
    refuseShrink(run, total)
    if (!run) {
      await store.createRun({
        runId: home.newRunId(),
        job: job.name,
        fingerprint,
        identity: JSON.stringify(identity),
        total,
        kind: job.kind,
        createdAt: options.now(),
      })
      // Another process starting on the same new folder at the same moment may have recorded its run first: that one stands.
      assertSameJob(home.where, await store.getRun(), identity, fingerprint, home.sameJobAdvice)
    }
    await home.recorded?.(store)
    const lease = await takeOwnership(store, options.outDir, options.leaseTtlMs, options.now())
    if (run && total > run.total) {
      await store.extendTotal(total, options.now())
      await store.addEvent('extended', { from: run.total, to: total }, options.now())
    }
    run = (await store.getRun())!
    return { paths, store, lease, run, resumed, movedAsideTo: movedTo, clearance }
  } catch (error) {
    await home.abandon()
    throw error
  }
}

/**
 * A run on one machine: its journal is `.longhaul/journal.sqlite` in the
 * folder. Without --fresh the folder is the run's, and a damaged one is
 * refused, naming the damage, before anything in it changes; a map run's
 * data/ must hold only what the journal handed out.
 */
export function localHome(options: OpenOptions, job: JobFacts): RunHome {
  const dir = options.outDir
  let store: JournalFile | undefined
  let names: string[] = []
  return {
    where: dir,
    peek: async () => (options.fresh ? undefined : await peekRun(dir)),
    async prepare() {
      if (options.fresh && hasRun(dir)) await assertNobodyRuns(dir, options.leaseTtlMs, options.now())
      if (!options.fresh) assertRunLayout(runPaths(dir))
      return options.fresh ?? false
    },
    async open(paths) {
      // data/ is listed before the journal is read: a shard there was claimed in the journal before it was made.
      names = job.kind === 'map' ? dataNames(paths) : []
      store = await openStore({ file: paths.journal })
      return store
    },
    async check(run) {
      if (job.kind !== 'map' || !store) return
      const frontier = await store.frontier()
      assertJournalHoldsShards(
        runPaths(dir),
        names,
        { run: run !== undefined, frontier, ...(run && { total: run.total }) },
        shardSuffixes(job.identity.output),
      )
    },
    newRunId: () => randomUUID(),
    abandon: async () => {
      await store?.close()
    },
  }
}

/**
 * --fresh moves a run aside only when no live process owns it (invariant
 * one-owner). A damaged journal cannot say who owns the run: its
 * progress.json can, and a live owner there still refuses the move.
 */
async function assertNobodyRuns(dir: string, leaseTtlMs: number, now: number): Promise<void> {
  let store: JournalFile
  try {
    store = await openStore({ file: runPaths(dir).journal })
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

/** The run already in `outDir`, read without changing anything; undefined when there is none. */
async function peekRun(outDir: string): Promise<RunRecord | undefined> {
  if (!hasRun(outDir)) return undefined
  const store = await openStore({ file: runPaths(outDir).journal, readonly: true })
  try {
    return await store.getRun()
  } finally {
    await store.close()
  }
}
