import { LeaseLostError } from '../errors.ts'
import type { Store } from '../journal/store.ts'
import { ProgressFiles } from '../telemetry/progressFiles.ts'
import type { ProgressTracker } from '../telemetry/progressTracker.ts'
import type { RunObserver } from './observer.ts'

export interface ProgressLoopOptions {
  readonly tracker: ProgressTracker
  readonly dir: string
  readonly store: Store
  /** The owner lease to renew; without it (a worker that joined a run) only the claims of `worker` are renewed. */
  readonly ownerToken: number | undefined
  readonly worker: string
  /** Write progress.json and PROGRESS.txt: the run's owner does, a worker that joined does not. @default true */
  readonly writeFiles?: boolean
  /** Runs after each renewal, before the files are rewritten: a shared run's owner counts the other processes' commits here. */
  readonly afterHeartbeat?: () => Promise<void>
  readonly leaseTtlMs: number
  /** When the owner lease (or, for a worker, its claims) was last renewed to expire: the session's start. */
  readonly leaseExpiresAt: number
  /** progress.json / PROGRESS.txt are rewritten at least this often. */
  readonly progressEveryMs: number
  /** The owner lease is renewed, and the heartbeat moves, this often. */
  readonly heartbeatMs: number
  /**
   * Int32Array[1] the workers add 1 to per finished item. Absent for a run whose progress is told to the tracker
   * directly (a supervised program: `reported`); then each tick only lets a stall be noticed.
   */
  readonly finished?: Int32Array
  /** Runs on every tick (about a second), before anything is published; `interval` when a 'tick' is about to be. */
  readonly onTick?: (interval: boolean) => void
  /** The line said when progress stalls or resumes, `quietSeconds` how long nothing moved. @default a map run's words */
  readonly stallNote?: (change: 'stalled' | 'recovered', quietSeconds: number) => string
  readonly observer: RunObserver | undefined
  readonly now: () => number
  /** A renewal failed (the lease was lost): the run must stop. */
  readonly onLeaseError: (error: Error) => void
}

/**
 * The run's pulse, on the coordinating thread (so an item that blocks a worker
 * never stops it): samples the workers' finished-items counter every second,
 * renews the lease and moves the heartbeat, detects stalls, and rewrites the
 * progress files on every interval, commit and change of state. A run with
 * no such counter (longhaul exec: the program says where it is) tells the
 * tracker itself and the loop through `reported` and `checkpointed`; its
 * ticks then only watch for a stall, and `onTick` does the rest.
 *
 * It is also the process's knowledge of its lease (invariant fenced-output).
 * The progress files are written only while the lease it last renewed has
 * not run out (less a margin); past that, a write waits for a renewal, and a
 * process that learns its lease was taken writes them never again. A lease
 * that ran out while the process was held up (paused, a sleeping machine)
 * but that nobody took is renewed, and the run goes on.
 */
export class ProgressLoop {
  private readonly files: ProgressFiles
  private timer: NodeJS.Timeout | undefined
  private finishedCount = 0
  private lastRaw = 0
  private lastTick = 0
  private lastHeartbeat: number
  private renewing = false
  /** Until when this process's lease holds, as it last renewed it. */
  private validUntil: number
  private renewal: Promise<void> | undefined
  private lostWith: LeaseLostError | undefined
  private ended = false
  /** Progress was reported since the files were last rewritten (a run without a `finished` counter). */
  private dirty = false
  private readonly onStop: (() => void)[] = []

  constructor(private readonly o: ProgressLoopOptions) {
    this.files = new ProgressFiles(o.dir)
    this.lastHeartbeat = o.now()
    this.validUntil = o.leaseExpiresAt
  }

  /** True once a renewal found the owner lease taken by another process: this one writes nothing more. */
  get leaseLost(): boolean {
    return this.lostWith !== undefined
  }

  /** True once the run's final state was written (or given up). */
  get finished(): boolean {
    return this.ended
  }

  /** Runs `fn` when the loop stops. */
  whenStopped(fn: () => void): void {
    this.onStop.push(fn)
  }

  /**
   * Resolves while this process still holds its lease, renewing it first if it
   * may have run out (the process was held up); throws LeaseLostError, saying
   * who took the run, when another process did. Called before claiming work.
   */
  async ensureLease(): Promise<void> {
    if (this.lostWith) throw this.lostWith
    if (this.o.now() < this.validUntil - this.marginMs) return
    await this.renew()
  }

  /**
   * After the journal refused a commit for a lost lease: renews (which fails)
   * to give the error that says who took the run; `fallback` if the lease
   * turns out to be this process's after all.
   */
  async whyLost(fallback: Error): Promise<Error> {
    if (this.lostWith) return this.lostWith
    return this.renew().then(
      () => fallback,
      (error: Error) => error,
    )
  }

  start(): void {
    this.publish('state')
    this.lastTick = this.o.now()
    this.timer = setInterval(() => this.tick(), this.tickMs)
  }

  /** A range of `count` items was committed. */
  committed(count: number): void {
    this.sample()
    this.o.tracker.committedItems(count, this.o.now())
    this.publish('commit')
  }

  /**
   * For a run without a `finished` counter: the tracker was told where the run is, and `change` is the stall
   * transition it returned. The files are rewritten at the next tick; a stall transition is recorded and published now.
   */
  reported(change: 'stalled' | 'recovered' | undefined): void {
    this.dirty = true
    if (change) {
      this.stallChanged(change)
      this.publish('state')
    }
  }

  /** A checkpoint that commits no count of its own (a supervised program's): recorded by the tracker, published now. */
  checkpointed(): void {
    this.o.tracker.checkpointed(this.o.now())
    this.publish('commit')
  }

  /** The run ended: final state, final files (if this process still holds the run). */
  async end(state: 'complete' | 'failed' | 'interrupted', error?: string): Promise<void> {
    if (this.ended) return
    this.ended = true
    this.stop()
    this.sample()
    this.o.tracker.end(state, error)
    // The last word must land: a lease that may have run out (a long last phase) is renewed first, if still ours.
    if (this.ownsFiles && this.o.now() >= this.validUntil - this.marginMs) await this.renew().catch(() => undefined)
    this.publish('state')
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer)
    this.timer = undefined
    for (const fn of this.onStop.splice(0)) fn()
  }

  /** How long before the lease runs out this process stops trusting it without a renewal. */
  private get marginMs(): number {
    return Math.min(1_000, this.o.leaseTtlMs / 4)
  }

  private get ownsFiles(): boolean {
    return this.o.writeFiles !== false && this.o.ownerToken !== undefined
  }

  /** One renewal at a time: the heartbeat's, or one a claim or the last write asked for. */
  private renew(): Promise<void> {
    this.renewal ??= this.renewOnce().finally(() => (this.renewal = undefined))
    return this.renewal
  }

  private async renewOnce(): Promise<void> {
    if (this.lostWith) throw this.lostWith
    const { store, ownerToken, worker, leaseTtlMs } = this.o
    const now = this.o.now()
    try {
      if (ownerToken === undefined) await store.renewClaims(worker, leaseTtlMs, now)
      else await store.heartbeat(ownerToken, worker, leaseTtlMs, now)
    } catch (error) {
      if (!(error instanceof LeaseLostError) || ownerToken === undefined) throw error
      this.lostWith = await this.lostError(now)
      throw this.lostWith
    }
    const lapsedMs = now - this.validUntil
    // Held up past its lease, and nobody took the run meanwhile: it is still this process's, and it goes on.
    if (lapsedMs > 0 && ownerToken !== undefined) {
      this.o.observer?.note?.(
        `this process was held up ${seconds(now - this.lastHeartbeat)} s (its lease ran out ${seconds(lapsedMs)} s ago); nobody took the run over, so it goes on`,
      )
      await store.addEvent('lease-renewed-late', { pid: process.pid, lapsedMs }, now).catch(() => undefined)
    }
    this.validUntil = now + leaseTtlMs
  }

  /** Why this process stops: who took its run, and when. */
  private async lostError(now: number): Promise<LeaseLostError> {
    const holder = await this.o.store.getOwner().catch(() => undefined)
    const by =
      holder && holder.token !== this.o.ownerToken
        ? `pid ${holder.pid} on ${holder.host} took the run over at ${new Date(holder.since).toISOString()}`
        : 'another process took the run over (and has since ended)'
    return new LeaseLostError(
      `this process (pid ${process.pid}) no longer owns the run in ${this.o.dir}: it was held up ${seconds(now - this.lastHeartbeat)} s, past its ${seconds(this.o.leaseTtlMs)} s lease ` +
        `(paused, or its machine slept), and ${by}. It stops here and writes nothing more: the run is the other process's now, and committed work is safe (longhaul status ${this.o.dir} shows where it stands).`,
    )
  }

  private get tickMs(): number {
    return Math.min(1_000, this.o.progressEveryMs, this.o.heartbeatMs)
  }

  private tick(): void {
    const now = this.o.now()
    // A tick at every interval, whatever commits wrote in between: the plain-line display prints on ticks.
    const interval = now - this.lastTick >= this.o.progressEveryMs - this.tickMs / 2
    this.o.onTick?.(interval)
    if (this.sample() !== undefined || (this.dirty && !interval)) this.publish('state')
    if (interval) {
      this.lastTick = now
      this.publish('tick')
    }
    if (now - this.lastHeartbeat >= this.o.heartbeatMs && !this.renewing) {
      this.renewing = true
      this.renew()
        .then(() => this.o.afterHeartbeat?.())
        .then(() => {
          this.lastHeartbeat = now
          this.o.tracker.heartbeat(now)
          // The files carry the heartbeat: a reader judges liveness by it.
          this.publish('heartbeat')
        }, this.o.onLeaseError)
        .finally(() => (this.renewing = false))
    }
  }

  /** Reads the workers' counter (without one, only the time since the last report); returns a stall transition if there is one. */
  private sample(): 'stalled' | 'recovered' | undefined {
    const now = this.o.now()
    let change: 'stalled' | 'recovered' | undefined
    if (this.o.finished) {
      const raw = Atomics.load(this.o.finished, 0)
      this.finishedCount += (raw - this.lastRaw) >>> 0 // wraps safely past 2^31
      this.lastRaw = raw
      change = this.o.tracker.finished(this.finishedCount, now)
    } else change = this.o.tracker.quiet(now)
    if (change) this.stallChanged(change)
    return change
  }

  /** A stall began or ended: journaled and said. */
  private stallChanged(change: 'stalled' | 'recovered'): void {
    const now = this.o.now()
    const quiet = this.o.tracker.snapshot(now).stalledForSeconds
    this.o.store.addEvent(change, change === 'stalled' ? { quietSeconds: quiet } : {}, now).catch(() => undefined)
    this.o.observer?.note?.(
      this.o.stallNote?.(change, quiet ?? 0) ??
        (change === 'stalled' ? `STALLED: nothing has finished for ${Math.round(quiet ?? 0)}s` : 'running again'),
    )
  }

  private publish(reason: 'tick' | 'commit' | 'state' | 'heartbeat'): void {
    const now = this.o.now()
    this.dirty = false
    const snapshot = this.o.tracker.snapshot(now)
    // Only while the lease surely holds: a process that lost it (or may have) must not write over the new owner's files.
    const leaseHolds = (): boolean => !this.lostWith && this.o.now() < this.validUntil - this.marginMs
    if (this.o.writeFiles !== false && leaseHolds()) {
      const failuresBefore = this.files.failures
      this.files.write(snapshot, now, leaseHolds)
      if (this.files.failures > 0 && failuresBefore === 0) {
        this.o.observer?.note?.(
          `cannot write the progress files in ${this.o.dir} (${this.files.lastError?.message}); the run goes on, but nobody can follow it there`,
        )
      }
    }
    this.o.observer?.progress?.(snapshot, reason)
  }
}

function seconds(ms: number): string {
  return (ms / 1000).toFixed(1)
}
