import { ProgressFiles } from '../telemetry/progressFiles.ts'
import type { ProgressTracker } from '../telemetry/progressTracker.ts'
import type { Store } from '../store/store.ts'
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
  /** progress.json / PROGRESS.txt are rewritten at least this often. */
  readonly progressEveryMs: number
  /** The owner lease is renewed, and the heartbeat moves, this often. */
  readonly heartbeatMs: number
  /** Int32Array[1] the workers add 1 to per finished item. */
  readonly finished: Int32Array
  readonly observer: RunObserver | undefined
  readonly now: () => number
  /** A renewal failed (the lease was lost): the run must stop. */
  readonly onLeaseError: (error: Error) => void
}

/**
 * The run's pulse, on the coordinating thread (so an item that blocks a worker
 * never stops it): samples the workers' finished-items counter every second,
 * renews the lease and moves the heartbeat, detects stalls, and rewrites the
 * progress files on every interval, commit and change of state.
 */
export class ProgressLoop {
  private readonly files: ProgressFiles
  private timer: NodeJS.Timeout | undefined
  private finishedCount = 0
  private lastRaw = 0
  private lastTick = 0
  private lastHeartbeat: number
  private renewing = false

  constructor(private readonly o: ProgressLoopOptions) {
    this.files = new ProgressFiles(o.dir)
    this.lastHeartbeat = o.now()
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

  /** The run ended: final state, final files. */
  end(state: 'complete' | 'failed' | 'interrupted', error?: string): void {
    this.stop()
    this.sample()
    this.o.tracker.end(state, error)
    this.publish('state')
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer)
    this.timer = undefined
  }

  private get tickMs(): number {
    return Math.min(1_000, this.o.progressEveryMs, this.o.heartbeatMs)
  }

  private tick(): void {
    const now = this.o.now()
    if (this.sample() !== undefined) this.publish('state')
    // A tick at every interval, whatever commits wrote in between: the plain-line display prints on ticks.
    if (now - this.lastTick >= this.o.progressEveryMs - this.tickMs / 2) {
      this.lastTick = now
      this.publish('tick')
    }
    if (now - this.lastHeartbeat >= this.o.heartbeatMs && !this.renewing) {
      this.renewing = true
      const { store, ownerToken, worker, leaseTtlMs } = this.o
      const renewal = ownerToken === undefined ? store.renewClaims(worker, leaseTtlMs, now) : store.heartbeat(ownerToken, worker, leaseTtlMs, now)
      renewal
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

  /** Reads the workers' counter; returns a stall transition if there is one. */
  private sample(): 'stalled' | 'recovered' | undefined {
    const raw = Atomics.load(this.o.finished, 0)
    this.finishedCount += (raw - this.lastRaw) >>> 0 // wraps safely past 2^31
    this.lastRaw = raw
    const now = this.o.now()
    const change = this.o.tracker.finished(this.finishedCount, now)
    if (change) {
      const quiet = this.o.tracker.snapshot(now).stalledForSeconds
      this.o.store.addEvent(change, change === 'stalled' ? { quietSeconds: quiet } : {}, now).catch(() => undefined)
      this.o.observer?.note?.(change === 'stalled' ? `STALLED: nothing has finished for ${Math.round(quiet ?? 0)}s` : 'running again')
    }
    return change
  }

  private publish(reason: 'tick' | 'commit' | 'state' | 'heartbeat'): void {
    const now = this.o.now()
    const snapshot = this.o.tracker.snapshot(now)
    if (this.o.writeFiles !== false) {
      const failuresBefore = this.files.failures
      this.files.write(snapshot, now)
      if (this.files.failures > 0 && failuresBefore === 0) {
        this.o.observer?.note?.(`cannot write the progress files in ${this.o.dir} (${this.files.lastError?.message}); the run goes on, but nobody can follow it there`)
      }
    }
    this.o.observer?.progress?.(snapshot, reason)
  }
}
