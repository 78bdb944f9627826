import { hostname } from 'node:os'
import type { SessionEvent } from '../journal/events.ts'
import { ProgressTracker, type TrackerInit } from '../telemetry/progressTracker.ts'
import { VERSION } from '../version.ts'
import type { RunObserver } from './observer.ts'
import { ProgressLoop, type ProgressLoopOptions } from './progressLoop.ts'
import type { OpenedRun } from './role.ts'
import type { RunSettings } from './settings.ts'
import { onForcedStop } from './signals.ts'

export interface SessionStart {
  /** The run as this process opened it; a worker that joined a shared run holds no owner lease. */
  readonly open: OpenedRun
  /** Where the run is, for people. @default the run folder */
  readonly where?: string
  /** The name this process's claims go by. @default OWNER */
  readonly worker?: string
  /** Runs after each heartbeat: a shared run's owner counts the other processes' commits there. */
  readonly afterHeartbeat?: () => Promise<void>
  readonly job: string
  readonly seed: number
  readonly settings: RunSettings
  /** The worker threads this session runs. @default the settings' */
  readonly workers?: number
  /** Items in flight at once in this process, when more than one per worker thread (`concurrency`). */
  readonly concurrency?: number
  /** Items (or steps) committed before this session. */
  readonly committed: number
  /** What the count is of, when not items. */
  readonly unit?: 'steps'
  /** More for the journal's started/resumed event. */
  readonly detail?: Readonly<Record<string, unknown>>
  /** The journal's started/resumed event, in place of the committed count, total and workers. @default those */
  readonly event?: SessionEvent
  /** The total the progress files show; null when unknown (a supervised program that says none). @default the run's */
  readonly trackerTotal?: number | null
  readonly startedAt: number
  /** Int32Array[1] the workers (or the loop's thread) add 1 to per finished item; absent when the work tells the tracker itself. */
  readonly finished?: SharedArrayBuffer
  /** Reads the time items spent waiting on a rate limit, for the progress files. */
  readonly rateLimit?: TrackerInit['rateLimit']
  /** Reads what the committed items used (`ctx.usage`), for the progress files. */
  readonly usage?: TrackerInit['usage']
  /** What the work adds to the progress loop's ticks and stall notes. */
  readonly loop?: Pick<ProgressLoopOptions, 'onTick' | 'stallNote'>
  /** The work starts the progress loop itself, when it is first let run (a supervised program). @default started here */
  readonly startLater?: boolean
  readonly observer: RunObserver | undefined
  readonly now: () => number
  readonly onLeaseError: (error: Error) => void
  /** What the run still records when it is stopped at once (a second Ctrl-C), unless its lease is lost or it has ended. */
  readonly lastWords: () => Promise<void>
}

/**
 * A session of a run begins the same way, whatever its work: the run marked running,
 * started/resumed in the journal (and the gate's decision: a waiver stays in
 * the journal for good), the observer told, and the progress loop started.
 * A worker that joined a shared run (no owner lease) only records that it
 * joined: the run's state and its progress files are the owner's.
 */
export async function startSession(s: SessionStart): Promise<{ tracker: ProgressTracker; progress: ProgressLoop }> {
  const { open, settings, now, observer } = s
  const { store, run, lease, clearance } = open
  const workers = s.workers ?? settings.workers
  const concurrency = s.concurrency !== undefined && { concurrency: s.concurrency }
  if (lease) await store.setState('running', now())
  await store.addEvent(
    lease ? (open.resumed ? 'resumed' : 'started') : 'joined',
    {
      ...(s.event ?? {
        committed: s.committed,
        total: run.total,
        workers,
        ...concurrency,
        pid: process.pid,
        ...s.detail,
      }),
      ...whoStarted(s.event?.command !== undefined),
    },
    now(),
  )
  if (clearance) await store.addEvent(`gate-${clearance.status}`, clearance, now())
  if (clearance?.status === 'waived')
    observer?.note?.(
      `launch gate WAIVED: running without a passing preflight proof (${clearance.reason}); recorded in the journal and progress.json`,
    )
  observer?.started?.({
    job: s.job,
    runId: run.runId,
    dir: s.where ?? open.paths.dir,
    total: run.total,
    committed: s.committed,
    resumed: open.resumed,
    workers,
    ...concurrency,
    seed: s.seed,
    ...(s.unit && { unit: s.unit }),
    ...(open.movedAsideTo && { movedAsideTo: open.movedAsideTo }),
  })
  const tracker = new ProgressTracker({
    job: s.job,
    runId: run.runId,
    total: s.trackerTotal === undefined ? run.total : s.trackerTotal,
    committed: s.committed,
    workers,
    ...concurrency,
    startedAt: s.startedAt,
    stallAfterMs: settings.stallAfterMs,
    refreshMs: settings.progressEveryMs,
    heartbeatMs: settings.heartbeatMs,
    owner: { pid: process.pid, host: hostname() },
    ...(s.unit && { unit: s.unit }),
    ...(clearance && { gate: clearance }),
    ...(s.rateLimit && { rateLimit: s.rateLimit }),
    ...(s.usage && { usage: s.usage }),
  })
  const worker = s.worker ?? OWNER
  // Renewed here, after however long the recovery took: the lease the progress loop starts from is a fresh one, and still this process's.
  const leaseFrom = now()
  if (lease) await store.heartbeat(lease.token, worker, settings.leaseTtlMs, leaseFrom)
  const progress = new ProgressLoop({
    tracker,
    dir: open.paths.dir,
    store,
    ownerToken: lease?.token,
    worker,
    leaseTtlMs: settings.leaseTtlMs,
    leaseExpiresAt: leaseFrom + settings.leaseTtlMs,
    writeFiles: lease !== undefined,
    progressEveryMs: settings.progressEveryMs,
    heartbeatMs: settings.heartbeatMs,
    ...(s.finished && { finished: new Int32Array(s.finished) }),
    ...s.loop,
    observer,
    now,
    onLeaseError: s.onLeaseError,
    ...(s.afterHeartbeat && { afterHeartbeat: s.afterHeartbeat }),
  })
  progress.whenStopped(
    onForcedStop(async () => {
      if (!progress.leaseLost && !progress.finished) await s.lastWords()
    }),
  )
  if (!s.startLater) progress.start()
  return { tracker, progress }
}

/** The name this process's claims go by in its own run. */
export const OWNER = 'local'

/**
 * Where and how a session was started, for the run's identity (the dashboard): this host, longhaul's version, the
 * working folder and, unless a supervised program's command stands in for it, longhaul's own arguments, with any
 * password in a URL (`postgres://user:secret@…`) left out.
 */
function whoStarted(hasCommand: boolean): Record<string, unknown> {
  return {
    host: hostname(),
    version: VERSION,
    cwd: process.cwd(),
    ...(!hasCommand && {
      argv: process.argv.slice(2).map((arg) => arg.replace(/(\/\/[^/:@\s]*):[^@/\s]*@/g, '$1:***@')),
    }),
  }
}
