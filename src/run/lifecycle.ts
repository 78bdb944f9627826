/**
 * A run's lifecycle, whatever its work (a map job's ranges, a loop's thread,
 * a supervised program) and whatever role this process plays in it: the role
 * opens the run (gate, journal, lease), the work reconciles what an earlier
 * session left, the session starts (started/resumed, the progress loop with
 * its heartbeat, stall clock and lease, the signal, the last words of a stop
 * at once), the work drives the run, and the run is closed: its end recorded
 * (complete, interrupted or failed, as the role records it) and everything
 * undone in reverse order of set-up, keeping the first error (Teardown).
 */
import type { ProgressTracker } from '../telemetry/progressTracker.ts'
import type { RunObserver } from './observer.ts'
import type { ProgressLoop } from './progressLoop.ts'
import type { Ending, Leaving, OpenedRun, RunRole } from './role.ts'
import type { RunSettings } from './settings.ts'
import { type SessionStart, startSession } from './startSession.ts'
import { Teardown } from './teardown.ts'

/** What the work tells the session it starts: what is already committed, and what the session shows and records beyond a map run's. */
export type SessionPlan = Pick<
  SessionStart,
  | 'job'
  | 'seed'
  | 'committed'
  | 'unit'
  | 'detail'
  | 'event'
  | 'trackerTotal'
  | 'finished'
  | 'rateLimit'
  | 'usage'
  | 'loop'
  | 'startLater'
  | 'workers'
  | 'concurrency'
> & {
  /** Where the run is, for people. @default the run folder */
  readonly where?: string
  /** In a shared run, reads again from the journal what the work shows besides the count (every process's usage), when the count is. */
  readonly recount?: () => Promise<void>
}

/** A run this process opened, before its session starts. */
export interface OpenSession<O extends OpenedRun> {
  readonly open: O
  readonly role: RunRole<O>
  readonly settings: RunSettings
  readonly now: () => number
  /** When this session began, before the run was opened. */
  readonly startedAt: number
  readonly observer: RunObserver | undefined
  /** Undone in reverse order at the end; what the work registers is undone before the progress loop stops and the lease goes. */
  readonly teardown: Teardown
  /** The first error that stopped the run, once one did. */
  readonly failure: Error | undefined
  /** Stops the run: with a reason, as a failure (the first one is kept); without one, cleanly (the signal). */
  stop(reason?: Error): void
}

/** A run whose session has started: the work drives it. */
export interface Session<O extends OpenedRun> extends OpenSession<O> {
  readonly tracker: ProgressTracker
  readonly progress: ProgressLoop
  /** Where the run is, for people. */
  readonly where: string
  /** The run's total as this process knows it; a process of a shared run reads it again, since the owner may grow it. */
  total: number
  /** Items (or steps) this process committed this session. */
  readonly committedHere: number
  /** `count` more items (or steps) are committed and durable: the progress loop and the observer are told. */
  committed(count: number): void
  /**
   * Items this process is committing now: sent to the journal, not yet counted by `committed`. What the journal holds
   * beyond the count and these is the other processes' work (countOthers), never this process's own, counted twice.
   */
  committing: number
  /** Brings the count up to the journal's: in a shared run, what the other processes committed too. */
  countOthers(): Promise<void>
}

/**
 * What differs between the kinds of work a run drives: what loads while the
 * run is opened, how what an earlier session left is brought in line, how
 * the run is driven, and what its result adds.
 */
export interface Work<O extends OpenedRun, R> {
  /** Starts what loads slowly (worker threads, a loop's thread) while the run is opened. @default nothing */
  begin?(): void
  /** The run could not be opened: lets go of what `begin` started. @default nothing */
  abandon?(): Promise<void>
  /** Brings what an earlier session left in line, before the session starts; or the result at once, when there is nothing to do. */
  reconcile(run: OpenSession<O>): Promise<SessionPlan | { readonly done: R }>
  /** Drives the run until it ends (complete, or interrupted by a stop) or throws (failed). */
  drive(session: Session<O>): Promise<Ending>
  /** The run is stopping (`stop`): a failure abandons the work, a plain stop lets it end cleanly. */
  halt(reason: Error | undefined): void
  /** The detail of the `interrupted` event of a stop at once, or the `failed` event of a failure. @default the count committed; the error */
  stopDetail?(session: Session<O> | undefined, error?: Error): Ending['detail']
  /** Once the end is recorded, before the result. @default nothing */
  ended?(session: Session<O>, ending: Ending): Promise<void>
  /** After the progress loop stops, before the lease goes: waits for the work's own journal writes. @default nothing */
  settle?(): Promise<void>
  /** What the session returns. */
  result(session: Session<O>, ending: Ending): R
}

export interface DriveOptions {
  readonly settings: RunSettings
  /** Aborting it stops the run cleanly (`Work.halt` without a reason). */
  readonly signal?: AbortSignal | undefined
  readonly observer?: RunObserver | undefined
}

/** Opens, drives and closes one session of a run: the same steps for every kind of work and every role. */
export async function driveRun<O extends OpenedRun, R>(
  work: Work<O, R>,
  role: RunRole<O>,
  options: DriveOptions,
): Promise<R> {
  const { settings, signal, observer } = options
  const { now } = settings
  const startedAt = now()
  work.begin?.()
  const open = await role.open(settings).catch(async (error: unknown) => {
    await work.abandon?.()
    throw error
  })
  const { store, lease } = open
  // Undone last first: the listener, what the work set up, the progress loop, the work's writes, the lease, what
  // the role opened, the journal.
  const teardown = new Teardown()
  teardown.defer(() => store.close())
  teardown.defer(() => role.close?.(open))
  if (lease) teardown.defer(() => store.releaseOwner(lease.token).catch(() => undefined))
  teardown.defer(() => work.settle?.())
  let session: Session<O> | undefined
  teardown.defer(() => session?.progress.stop())
  let failure: Error | undefined
  let committedHere = 0
  const stop = (reason?: Error): void => {
    if (reason) failure ??= reason
    work.halt(reason)
  }
  const opened: OpenSession<O> = {
    open,
    role,
    settings,
    now,
    startedAt,
    observer,
    teardown,
    get failure() {
      return failure
    },
    stop,
  }
  let recount: (() => Promise<void>) | undefined
  const countOthers = async (): Promise<void> => {
    if (!session) return
    const behind =
      Math.min(await store.committedItems(), session.total) - session.tracker.committed - session.committing
    if (behind > 0) session.tracker.othersCommitted(behind, now())
    await recount?.()
  }
  const leaving = (): Leaving<O> => ({ open, progress: session?.progress, committedHere, countOthers, now })
  const onAbort = (): void => stop()
  try {
    const plan = await work.reconcile(opened)
    if ('done' in plan) return plan.done
    recount = plan.recount
    const where = plan.where ?? open.paths.dir
    const started = await startSession({
      ...plan,
      open,
      where,
      settings,
      startedAt,
      observer,
      now,
      onLeaseError: (error) => stop(error),
      lastWords: async () => {
        const detail = work.stopDetail?.(session) ?? { committed: session?.tracker.committed ?? plan.committed }
        await role.end(leaving(), { state: 'interrupted', detail: { ...detail, forced: true } })
        if (lease) await store.releaseOwner(lease.token)
      },
      ...role.session(countOthers),
    })
    const { tracker, progress } = started
    session = {
      ...opened,
      get failure() {
        return failure
      },
      tracker,
      progress,
      where,
      total: open.run.total,
      committing: 0,
      get committedHere() {
        return committedHere
      },
      committed(count) {
        progress.committed(count)
        committedHere += count
        observer?.committed?.({
          total: session?.total ?? open.run.total,
          committed: tracker.committed,
          committedThisSession: tracker.committedThisSession,
          elapsedMs: now() - startedAt,
          lastCommitAt: tracker.lastCheckpointAt ?? now(),
        })
      },
      countOthers,
    }
    signal?.addEventListener('abort', onAbort, { once: true })
    teardown.defer(() => signal?.removeEventListener('abort', onAbort))
    if (signal?.aborted) stop()
    const ending = await work.drive(session)
    await role.end(leaving(), ending)
    await work.ended?.(session, ending)
    return work.result(session, ending)
  } catch (error) {
    stop(error as Error)
    const final = failure ?? (error as Error)
    await role.failed(leaving(), final, work.stopDetail?.(session, final) ?? { error: final.message })
    throw final
  } finally {
    await teardown.close()
  }
}
