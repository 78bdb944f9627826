import { UsageError } from '../../errors.ts'
import { hasAsyncItem, isPythonJobPath, loadPythonJob } from '../../job/pythonJob.ts'
import type { RateLimit } from '../../job/rateLimit.ts'
import type { RangeSummary } from '../../journal/store.ts'
import { addTotals, NO_USAGE_TOTALS, type UsageTotals, usageSince } from '../../journal/usage.ts'
import type { LaunchGate, RunTarget } from '../../run/identify.ts'
import { driveRun, type Work } from '../../run/lifecycle.ts'
import type { RunObserver } from '../../run/observer.ts'
import { type RawRunSettings, type RunSettings, resolveRunSettings } from '../../run/settings.ts'
import { type RunSummary, sessionSummary } from '../../run/summary.ts'
import { writeReaderIndex } from '../../shards/readerIndex.ts'
import type { RunNaming } from '../../shards/recovery.ts'
import { runTagOf } from '../../shards/shardNames.ts'
import type { RateLimitShown } from '../../telemetry/snapshot.ts'
import { divideAcrossProcesses, type ProcessShare } from '../rateLimit/processShare.ts'
import { limiterSetup, SharedLimiter } from '../rateLimit/sharedLimiter.ts'
import { driveRanges } from './driveRanges.ts'
import { prepareMaker } from './prepareMaker.ts'
import type { RangeMaker } from './rangeMaker.ts'
import { type Participation, type Role, roleOf } from './role.ts'
import type { PreparedPool } from './threadPool.ts'

export interface RunOptions extends RawRunSettings, RunTarget {
  /** Asked before anything is written; may refuse the run (invariant gate). @default none: a run started from code is not gated */
  readonly gate?: LaunchGate
  /** Commit at least this often, ms. @default the job's checkpointEvery (60 s) */
  readonly checkpointEvery?: number
  /** Aborting it stops the run cleanly: finished items are committed, the run is marked interrupted. */
  readonly signal?: AbortSignal
  readonly observer?: RunObserver
  readonly now?: () => number
  /**
   * The run's journal in PostgreSQL (a postgres:// URL): a run that other
   * processes, on this machine or others, can join with `join`. outDir must
   * then be a folder they all share. @default a SQLite journal in outDir
   */
  readonly store?: string
  /** Join this run of `store` as a worker, rather than own (create or resume) a run. @default undefined */
  readonly join?: string
  /** s3://bucket/prefix: with `store`, the shards go to this bucket; outDir keeps the progress files. @default outDir/data */
  readonly shards?: string
  /** The rate limit of the service the items call, for the whole run (job/rateLimit.ts). @default the job's rateLimit */
  readonly rateLimit?: RateLimit
}

/**
 * Runs or resumes a map job in `outDir` until every item is committed, the
 * signal aborts it (state interrupted), or an item fails (ItemFailedError,
 * state failed). Committed work always stays. With `store`, the run is
 * shared: this process owns it, or with `join` works on it beside its owner,
 * and every process claims, makes and commits ranges the same way.
 */
export async function runMapJob(options: RunOptions): Promise<RunSummary> {
  const settings = resolveRunSettings(options)
  if (settings.concurrency !== undefined && isPythonJobPath(options.jobPath)) {
    if (!hasAsyncItem(await loadPythonJob(options.jobPath)))
      throw new UsageError(
        `${options.jobPath}: --concurrency needs an \`async def item\` (items that await I/O, run on an asyncio loop); its item is a plain function, which makes one item at a time per worker process: use --workers`,
      )
  }
  const role = roleOf(options)
  return await driveRun(mapWork(options, role, settings.workers), role, {
    settings,
    signal: options.signal,
    observer: options.observer,
  })
}

/**
 * A map job's work: ranges claimed from the journal, made by a RangeMaker
 * (worker threads), published to the run's shard place and committed; the
 * shards of earlier sessions re-hashed alongside. The role says where the
 * processes of a shared run differ.
 */
function mapWork(options: RunOptions, role: Role, workers: number): Work<Participation, RunSummary> {
  const observer = options.observer
  const stopFlag = new Int32Array(new SharedArrayBuffer(4))
  const finishedCounter = new SharedArrayBuffer(4)
  const retainedByThread = new Map<number, number>()
  let threads: PreparedPool | undefined
  let maker: RangeMaker | undefined
  let naming: RunNaming
  let kept: RangeSummary[] = []
  /** Threads, and items in flight: resolved once the job is loaded (its own `concurrency`). */
  let parallel: Parallelism
  let bytesWritten = 0
  let slowestItemMs = 0
  /**
   * What the committed items used: the journal's totals at the start, plus this process's commits; a shared run reads
   * the journal's again with the other processes' commits (recount), so its progress files show the run's totals.
   */
  let usage: UsageTotals = NO_USAGE_TOTALS
  /** The run's totals when this session began: its rate is what every process committed since. */
  let usageAtStart: UsageTotals = NO_USAGE_TOTALS
  /** Commits of this process added to `usage`, to tell whether one came in while the journal was read. */
  let commitsCounted = 0
  /** A shared run's division of its rate limit across its processes. */
  let share: ProcessShare | undefined
  /** Files in data/ longhaul cannot prove it wrote: left, and said once. */
  const noteForeign = (place: Participation['place'], names: readonly string[]): void =>
    observer?.note?.(
      `left ${names.length} file(s) in ${place.where.replace(/\/$/, '')}/data that this run did not write: ${names.slice(0, 5).join(', ')}${names.length > 5 ? ', …' : ''} (verify lists them as stray; move them out to make the output clean)`,
    )
  return {
    // The worker bundle is built, or the Python worker processes start, while the run is opened.
    begin: () => {
      threads = prepareMaker(options.jobPath, workers)
    },
    abandon: async () => await threads?.abandon(),
    halt: () => Atomics.store(stopFlag, 0, 1),
    async reconcile({ open, settings, stop, teardown }) {
      const { job, paths, place } = open
      naming = { runTag: runTagOf(open.run.runId), suffixes: job.output.suffixes }
      // Threads start now and load while the journal and data folder are reconciled.
      teardown.defer(() => (maker ? maker.close() : threads?.abandon()))
      const limit = options.rateLimit ?? job.rateLimit
      const rateLimit = limiterSetup(limit)
      const limiter = new SharedLimiter(rateLimit)
      if (role.kind !== 'local' && limit.length > 0) {
        const divided = divideAcrossProcesses(open.store, role.me, limiter, settings.heartbeatMs, settings.now)
        share = divided
        teardown.defer(divided.stop)
      }
      parallel = parallelismOf(settings, options.workers, job.concurrency)
      maker = await threads!.start({
        setup: {
          jobPath: options.jobPath,
          params: open.params,
          seed: open.seed,
          retries: job.retries,
          dataDir: paths.data,
          runTag: naming.runTag,
          inputHandle: open.input?.handle,
          stop: stopFlag.buffer as SharedArrayBuffer,
          finished: finishedCounter,
          rateLimit,
          concurrency: parallel.concurrency,
          threads: parallel.threads,
          threadsStarted: new SharedArrayBuffer(4),
        },
        concurrency: parallel.threads,
        rangesPerThread: parallel.rangesPerThread,
        onBroken: stop,
      })
      const reconciled = await role.reconcile(open, naming)
      kept = reconciled.kept
      if (reconciled.removed)
        observer?.note?.(`removed ${reconciled.removed} unrecorded file(s) left by an earlier crash`)
      if (reconciled.finished)
        observer?.note?.(`finished ${reconciled.finished} recorded file(s) whose rename an earlier crash cut short`)
      if (reconciled.foreign.length) noteForeign(place, reconciled.foreign)
      if (reconciled.forgotten)
        observer?.note?.(`${reconciled.forgotten} recorded range(s) had missing or short files; recomputing them`)
      const committed = await open.store.committedItems()
      usage = usageAtStart = await open.store.usageTotals()
      const welcome = role.welcome(open)
      if (welcome) observer?.note?.(welcome)
      return {
        job: job.name,
        seed: open.seed,
        committed,
        finished: finishedCounter,
        rateLimit: () => rateLimitShown(limiter, limit.length > 0),
        usage: () => ({ run: usage, thisSession: usageSince(usage.usage, usageAtStart.usage) }),
        ...(role.kind !== 'local' && {
          async recount() {
            const before = commitsCounted
            const totals = await open.store.usageTotals()
            // A commit counted here meanwhile may be missing from what was read: the next reading has it.
            if (commitsCounted === before) usage = totals
          },
        }),
        workers: parallel.threads,
        ...(parallel.concurrency > parallel.threads && { concurrency: parallel.concurrency }),
        // Where the run is, for people: a worker staging in a temporary folder works on the run's bucket.
        where: open.scratch !== undefined ? place.where : paths.dir,
      }
    },
    drive: (session) =>
      driveRanges(session, role, maker!, naming, kept, {
        stopFlag,
        checkpointMs: options.checkpointEvery ?? session.open.job.checkpointEvery,
        threads: parallel.threads,
        rangesPerThread: parallel.rangesPerThread,
        inFlightPerThread: Math.ceil(parallel.concurrency / parallel.threads),
        onResult: (result) => {
          slowestItemMs = Math.max(slowestItemMs, result.slowestItemMs)
          if (result.retained) retainedByThread.set(result.retained.thread, result.retained.bytes)
        },
        onCommitted: (result) => {
          bytesWritten += result.files.reduce((sum, file) => sum + file.bytes, 0)
          usage = addTotals(usage, result)
          commitsCounted++
        },
        noteForeign: (names) => noteForeign(session.open.place, names),
        ...(share && { claimedAfterIdle: share.claimedAfterIdle }),
      }),
    async ended({ open }, ending) {
      // A local run's reader index lists what is committed, also when it stops part-way.
      if (ending.state === 'interrupted' && role.kind === 'local')
        await writeReaderIndex(open.store, open.place, open.job.output.kind)
    },
    result: (session, ending) =>
      sessionSummary(
        {
          job: session.open.job.name,
          runId: session.open.run.runId,
          dir: session.where,
          state: ending.state === 'complete' ? 'complete' : 'interrupted',
          total: session.total,
          committed: session.tracker.committed,
          committedThisSession: session.committedHere,
          bytesWritten,
          slowestItemMs,
          digest: ending.detail.digest ?? null,
          resumed: session.open.resumed,
          retainedBytes: retainedByThread.size ? [...retainedByThread.values()].reduce((a, b) => a + b, 0) : null,
        },
        session.startedAt,
        session.now(),
      ),
  }
}

/** What the progress files say of the limit: shown when the run has one, or once a service said "rate limited". */
function rateLimitShown(limiter: SharedLimiter, limited: boolean): RateLimitShown | undefined {
  const { waitingSeconds, rateLimitedAnswers, share } = limiter.reading()
  if (!limited && waitingSeconds === 0 && rateLimitedAnswers === 0) return undefined
  const limit = limited ? `${limiter.text}${share > 1 ? ` (this process: 1/${share} of it)` : ''}` : null
  return { limit, waitingSeconds, rateLimitedAnswers }
}

/** How a process makes items: `threads` worker threads with `concurrency` items in flight over them all. */
interface Parallelism {
  readonly threads: number
  readonly concurrency: number
  /**
   * Ranges a thread makes at once: two when it has several items in flight, so that while one range's last items
   * finish and its shard is written, the next one's fill the free slots (they share the thread's slots).
   */
  readonly rangesPerThread: number
}

/**
 * `--concurrency` (else the job's) is per process, whatever the thread count: the threads share it, and no more of
 * them start than it allows (each has at least one item in flight). Unset: one item per thread, as `--workers` says.
 * With it, one thread unless `--workers` asks for more: items that wait need no more to keep hundreds in flight, and
 * each thread costs memory and CPU of its own (bench/README.md, items that wait on a service).
 */
function parallelismOf(
  settings: RunSettings,
  workersAsked: number | undefined,
  jobConcurrency: number | undefined,
): Parallelism {
  const concurrency = settings.concurrency ?? jobConcurrency
  if (concurrency === undefined) return { threads: settings.workers, concurrency: settings.workers, rangesPerThread: 1 }
  const threads = Math.min(workersAsked ?? 1, concurrency)
  return { threads, concurrency, rangesPerThread: concurrency > threads ? 2 : 1 }
}
