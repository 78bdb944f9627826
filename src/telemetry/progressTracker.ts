import { type Eta, EtaEstimator } from './eta.ts'
import type { LaunchClearance, ProgressSnapshot, ProgressState, RateLimitShown, Usage } from './snapshot.ts'
import { StallDetector } from './stall.ts'

export interface TrackerInit {
  readonly job: string
  readonly runId: string
  /** Null while unknown (a supervised program that has not said). */
  readonly total: number | null
  /** What is counted, when not items. */
  readonly unit?: string
  /** Items committed before this session. */
  readonly committed: number
  readonly workers: number
  /** Items in flight at once in the process, when more than one per worker thread. */
  readonly concurrency?: number
  readonly startedAt: number
  readonly stallAfterMs: number
  readonly refreshMs: number
  readonly heartbeatMs: number
  readonly owner: { readonly pid: number; readonly host: string }
  /** The launch gate's decision for this session, if a gate was asked. */
  readonly gate?: LaunchClearance
  /** Reads the time spent waiting on a rate limit; undefined while there is nothing to show. */
  readonly rateLimit?: () => RateLimitShown | undefined
  /** Reads what the committed items used (`ctx.usage`): the run's totals, and this session's part of them. */
  readonly usage?: () => {
    readonly run: { readonly usage: Usage; readonly failedUsage: Usage }
    readonly thisSession: Usage
  }
}

/**
 * Everything a run knows about its own progress, turned into a snapshot on
 * demand. Two counts feed it: items the workers finished (fast, for rate,
 * ETA and stalls) and items committed (durable, what "done" means).
 */
export class ProgressTracker {
  private eta: EtaEstimator
  private readonly stall: StallDetector
  total: number | null
  unit: string | undefined
  /** Where a self-reporting program's count stood when the ETA started measuring (exec; it moves back after a restart). */
  private positionBase = 0
  /** The next position() starts the measurement afresh (a new life of the program). */
  private rebaseNext = true
  /** Items committed, earlier sessions included. */
  committed: number
  /** Items committed by this session. */
  committedThisSession = 0
  private finishedThisSession = 0
  /** Items other processes of a shared run committed during this session: the run's rate counts them too. */
  private othersThisSession = 0
  private checkpoints = 0
  lastCheckpointAt: number | null = null
  private heartbeatAt: number
  private ended: { state: ProgressState; error: string | null } | undefined

  constructor(private readonly init: TrackerInit) {
    this.committed = init.committed
    this.total = init.total
    this.unit = init.unit
    this.heartbeatAt = init.startedAt
    this.eta = new EtaEstimator(init.startedAt)
    this.stall = new StallDetector(init.stallAfterMs, init.startedAt)
  }

  /** Items finished by the workers this session (cumulative); returns a stall transition, if any. */
  finished(count: number, now: number): 'stalled' | 'recovered' | undefined {
    this.finishedThisSession = Math.max(this.finishedThisSession, count)
    return this.observe(now)
  }

  /**
   * In a shared run, `count` more items committed by other processes (read from the journal): the run's rate and ETA
   * count them; the stall clock sees them at the next tick (`finished`), which reports the change.
   */
  othersCommitted(count: number, now: number): void {
    this.committedItems(count, now)
    this.othersThisSession += count
    this.eta.observe(now, this.finishedThisSession + this.othersThisSession)
  }

  /** The rate, ETA and stall clock follow what the run made: this process's finished items and the others' commits. */
  private observe(now: number): 'stalled' | 'recovered' | undefined {
    const made = this.finishedThisSession + this.othersThisSession
    this.eta.observe(now, made)
    return this.stall.update(made, now)
  }

  committedItems(count: number, now: number): void {
    this.committed += count
    this.committedThisSession += count
    this.checkpoints++
    this.lastCheckpointAt = now
  }

  /**
   * For a program that says where it is (exec): `done` (and `total`, when it
   * says) are absolute. After a restart from a checkpoint `done` moves back;
   * the rate and ETA then measure afresh from there.
   */
  position(done: number, total: number | null | undefined, now: number): 'stalled' | 'recovered' | undefined {
    if (total !== undefined && total !== null) this.total = total
    if (this.rebaseNext || done < this.committed) {
      this.rebaseNext = false
      this.eta = new EtaEstimator(now)
      this.positionBase = done
    }
    this.committed = done
    this.committedThisSession = this.finishedThisSession = Math.max(0, done - this.positionBase)
    this.eta.observe(now, this.finishedThisSession)
    return this.stall.update(done, now)
  }

  /** The program was (re)started: its next report is where the rate starts counting from. */
  rebase(): void {
    this.rebaseNext = true
  }

  /** Nothing new: lets a stall be noticed while no count arrives. */
  quiet(now: number): 'stalled' | 'recovered' | undefined {
    return this.stall.update(this.committed, now)
  }

  /** A supervised program wrote a checkpoint (exec). */
  checkpointed(now: number): void {
    this.checkpoints++
    this.lastCheckpointAt = now
  }

  /** Committed items found corrupt and forgotten: they will be made again. */
  forgot(count: number): void {
    this.committed -= count
  }

  heartbeat(now: number): void {
    this.heartbeatAt = now
  }

  end(state: 'complete' | 'failed' | 'interrupted', error?: string): void {
    this.ended = { state, error: error ?? null }
  }

  snapshot(now: number): ProgressSnapshot {
    const { init } = this
    const rateLimit = init.rateLimit?.()
    const inFlight = Math.max(0, this.finishedThisSession - (this.committedThisSession - this.othersThisSession))
    const total = this.total
    const remaining = total === null ? null : Math.max(0, total - this.committed - inFlight)
    const state: ProgressState = this.ended?.state ?? (this.stall.isStalled ? 'stalled' : 'running')
    const eta = this.ended ? undefined : remaining === null ? this.rateOnly(now) : this.eta.estimate(now, remaining)
    const iso = (t: number): string => new Date(t).toISOString()
    return {
      job: init.job,
      runId: init.runId,
      state,
      done: this.committed,
      total,
      percent: total === null ? null : total > 0 ? (100 * this.committed) / total : 100,
      ...(this.unit && { unit: this.unit }),
      inFlight,
      itemsPerSecond: eta ? eta.itemsPerSecond : this.sessionRate(now),
      etaSeconds: eta ? eta.etaSeconds : state === 'complete' ? 0 : null,
      etaLow: eta ? eta.etaLow : state === 'complete' ? 0 : null,
      etaHigh: eta ? eta.etaHigh : state === 'complete' ? 0 : null,
      etaUnknownBecause:
        eta?.unknownBecause ??
        (state === 'complete' || eta ? null : state === 'failed' ? 'the run failed' : 'the run was interrupted'),
      startedAt: iso(init.startedAt),
      updatedAt: iso(now),
      heartbeatAt: iso(this.heartbeatAt),
      lastCheckpointAt: this.lastCheckpointAt === null ? null : iso(this.lastCheckpointAt),
      checkpoints: this.checkpoints,
      workers: init.workers,
      ...(init.concurrency !== undefined && { concurrency: init.concurrency }),
      elapsedSeconds: (now - init.startedAt) / 1000,
      stalledForSeconds: state === 'stalled' ? this.stall.quietSeconds(now) : null,
      stallAfterSeconds: init.stallAfterMs / 1000,
      refreshSeconds: init.refreshMs / 1000,
      heartbeatSeconds: init.heartbeatMs / 1000,
      owner: init.owner,
      ...(rateLimit && { rateLimit }),
      ...this.usageFields(now),
      gate: init.gate ?? null,
      error: this.ended?.error ?? null,
    }
  }

  /** The usage fields of progress.json, when any item reported usage. */
  private usageFields(now: number): Partial<ProgressSnapshot> {
    const usage = this.init.usage?.()
    if (!usage) return {}
    const { run, thisSession } = usage
    const failed = Object.keys(run.failedUsage).length > 0
    if (Object.keys(run.usage).length === 0 && !failed) return {}
    const seconds = (now - this.init.startedAt) / 1000
    return {
      usage: run.usage,
      usagePerItem: divided(run.usage, this.committed),
      usagePerSecond: divided(thisSession, seconds),
      ...(failed && { usageOnFailedAttempts: run.failedUsage }),
    }
  }

  /** With no total there is no ETA, but the rate is still worth showing. */
  private rateOnly(now: number): Eta {
    const { itemsPerSecond } = this.eta.estimate(now, Number.MAX_SAFE_INTEGER)
    return {
      itemsPerSecond,
      etaSeconds: null,
      etaLow: null,
      etaHigh: null,
      unknownBecause: 'the program does not say how much there is to do',
    }
  }

  private sessionRate(now: number): number | null {
    const seconds = (now - this.init.startedAt) / 1000
    return seconds > 0 ? this.committedThisSession / seconds : null
  }
}

/** Each counter divided by `by`; zeros when `by` is not above 0. */
function divided(usage: Usage, by: number): Usage {
  return Object.fromEntries(Object.entries(usage).map(([unit, amount]) => [unit, by > 0 ? amount / by : 0]))
}
