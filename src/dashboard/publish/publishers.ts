import { z } from 'zod'
import { UsageError } from '../../errors.ts'
import type { ProgressSnapshot, ProgressState } from '../../telemetry/snapshot.ts'
import { s3Sender, s3TargetSchema } from './s3.ts'
import { webhookSender, webhookTargetSchema } from './webhook.ts'

/**
 * One entry of `publish` in longhaul.config.ts: where a run's progress is
 * pushed, for machines that accept no inbound connection (DESIGN §2).
 */
export const publishTargetSchema = z.discriminatedUnion('kind', [webhookTargetSchema, s3TargetSchema])

export type PublishTarget = z.output<typeof publishTargetSchema>
export type PublishTargetInput = z.input<typeof publishTargetSchema>

export interface PublishersOptions {
  /** One line for people: a target started failing, works again, is off, or missed the final state. */
  readonly onNote: (message: string) => void
  /** How long close() waits for the final publish, ms. @default 3_000 */
  readonly finalGraceMs?: number
  /** A publish (one POST, or the bucket's three PUTs) is abandoned after this long, ms. @default 10_000 */
  readonly timeoutMs?: number
  /** The first retry after a failure comes this long after it, then twice as long each time, ms. @default 1_000 */
  readonly retryFirstMs?: number
  /** …up to this, ms. @default 60_000 */
  readonly retryMaxMs?: number
  readonly now?: () => number
}

export interface Publishers {
  /** Hand it every snapshot (it fits `RunObserver`); it never throws and never waits. */
  readonly observer: { progress(snapshot: ProgressSnapshot, reason?: string): void }
  /** Waits for the final publish, at most the grace period, then stops every target. */
  close(): Promise<void>
}

/** What a target kind provides: a label safe to print, and one publish of a snapshot. */
interface Sender {
  readonly label: string
  send(snapshot: ProgressSnapshot, signal: AbortSignal, now: number): Promise<void>
  close?(): void
}

type Settings = Required<PublishersOptions>

/**
 * Starts publishing to `targets` in the background. Each target publishes on
 * every change of state (the first snapshot and the final one included) and
 * every `everyMinutes` in between; holds at most one publish in flight, a
 * newer snapshot replacing one still waiting; retries a failure with backoff
 * (1 s, 2 s, 4 s … 1 min) and reports it once. Publishing never slows or
 * fails the run.
 */
export function startPublishers(targets: readonly PublishTarget[], options: PublishersOptions): Publishers {
  const settings: Settings = {
    finalGraceMs: 3_000,
    timeoutMs: 10_000,
    retryFirstMs: 1_000,
    retryMaxMs: 60_000,
    now: Date.now,
    ...withoutUndefined(options),
    onNote: (message) => {
      try {
        options.onNote(message)
      } catch {
        // A broken note sink must not break publishing, nor the run.
      }
    },
  }
  const lanes = targets.map((target) => new TargetLane(senderFor(target), target.everyMinutes * 60_000, settings))
  let closing: Promise<void> | undefined
  return {
    observer: {
      progress(snapshot) {
        for (const lane of lanes) lane.offer(snapshot)
      },
    },
    close: () => (closing ??= closeLanes(lanes, settings.finalGraceMs)),
  }
}

/** A secret-free description of a target, for reports and notes. */
export function publishTargetLabel(target: PublishTarget): string {
  const every = `every ${target.everyMinutes} min and on every change of state`
  return target.kind === 'webhook'
    ? `${webhookSender(target).label} (${target.format}, ${every})`
    : `${s3Sender(target).label} (${every})`
}

function senderFor(target: PublishTarget): Sender {
  return target.kind === 'webhook' ? webhookSender(target) : s3Sender(target)
}

async function closeLanes(lanes: readonly TargetLane[], graceMs: number): Promise<void> {
  for (const lane of lanes) lane.flush()
  let timer: NodeJS.Timeout | undefined
  const grace = new Promise<void>((resolve) => (timer = setTimeout(resolve, graceMs)))
  await Promise.race([Promise.all(lanes.map((lane) => lane.idle())), grace])
  clearTimeout(timer)
  for (const lane of lanes) lane.stop(graceMs)
}

/** One target's queue: at most one publish in flight and one snapshot waiting. */
class TargetLane {
  /** The snapshot to publish next; a newer one replaces it. */
  private waiting: ProgressSnapshot | undefined
  private inFlight: ProgressSnapshot | undefined
  private retryTimer: NodeJS.Timeout | undefined
  private lastState: ProgressState | undefined
  private lastQueuedAt = Number.NEGATIVE_INFINITY
  /** Failed attempts since the last success. */
  private failures = 0
  private lastError = ''
  private off = false
  private stopped = false
  private readonly abort = new AbortController()
  private idleWaiters: (() => void)[] = []

  constructor(
    private readonly sender: Sender,
    private readonly everyMs: number,
    private readonly s: Settings,
  ) {}

  offer(snapshot: ProgressSnapshot): void {
    if (this.off || this.stopped) return
    const changed = snapshot.state !== this.lastState
    this.lastState = snapshot.state
    if (this.waiting) {
      this.waiting = snapshot
      return
    }
    const now = this.s.now()
    if (!changed && now - this.lastQueuedAt < this.everyMs) return
    this.waiting = snapshot
    this.lastQueuedAt = now
    this.pump()
  }

  /** The run is ending: retry now rather than after the backoff. */
  flush(): void {
    if (this.retryTimer) clearTimeout(this.retryTimer)
    this.retryTimer = undefined
    this.pump()
  }

  /** Resolves once nothing is waiting or in flight. */
  idle(): Promise<void> {
    if (this.isIdle()) return Promise.resolve()
    return new Promise((resolve) => this.idleWaiters.push(resolve))
  }

  /** Abandons whatever is still waiting or in flight, saying so. */
  stop(graceMs: number): void {
    if (this.stopped) return
    this.stopped = true
    if (this.retryTimer) clearTimeout(this.retryTimer)
    this.retryTimer = undefined
    const undelivered = this.waiting ?? this.inFlight
    if (undelivered && !this.off) {
      const why = this.inFlight ? 'no answer yet' : `last error: ${this.lastError}`
      this.s.onNote(
        `publishing to ${this.sender.label}: the final progress (${undelivered.state.toUpperCase()}) was not delivered within ${graceMs / 1000} s (${why}); gave up`,
      )
    }
    this.abort.abort()
    this.waiting = undefined
    this.sender.close?.()
  }

  private isIdle(): boolean {
    return this.off || this.stopped || (this.inFlight === undefined && this.waiting === undefined)
  }

  private pump(): void {
    if (this.inFlight || this.retryTimer || this.stopped || this.off || !this.waiting) {
      this.settleIdle()
      return
    }
    const snapshot = this.waiting
    this.waiting = undefined
    this.inFlight = snapshot
    void this.attempt(snapshot).finally(() => {
      this.inFlight = undefined
      this.pump()
    })
  }

  private async attempt(snapshot: ProgressSnapshot): Promise<void> {
    const signal = AbortSignal.any([this.abort.signal, AbortSignal.timeout(this.s.timeoutMs)])
    try {
      await untilAborted(this.sender.send(snapshot, signal, this.s.now()), signal)
    } catch (error) {
      if (!this.stopped) this.failed(snapshot, error)
      return
    }
    if (this.failures > 0)
      this.s.onNote(
        `publishing to ${this.sender.label} works again (after ${this.failures} failed attempt${this.failures === 1 ? '' : 's'})`,
      )
    this.failures = 0
  }

  private failed(snapshot: ProgressSnapshot, error: unknown): void {
    if (error instanceof UsageError) {
      // Retrying cannot help (a missing package, say): off for this run, said once.
      this.off = true
      this.waiting = undefined
      this.s.onNote(`publishing to ${this.sender.label} is off for this run: ${error.message}`)
      return
    }
    this.failures++
    this.lastError = describe(error, this.s.timeoutMs)
    if (this.failures === 1) {
      this.s.onNote(
        `publishing to ${this.sender.label} failed (${this.lastError}); retrying in the background with backoff — the run is not affected`,
      )
    }
    // Retry with the newest snapshot there is.
    this.waiting ??= snapshot
    const delay = Math.min(this.s.retryFirstMs * 2 ** (this.failures - 1), this.s.retryMaxMs)
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined
      this.pump()
    }, delay)
    this.retryTimer.unref()
  }

  private settleIdle(): void {
    if (!this.isIdle()) return
    const waiters = this.idleWaiters
    this.idleWaiters = []
    for (const resolve of waiters) resolve()
  }
}

/** `work`, or a rejection as soon as `signal` aborts, whichever comes first: no sender can outlive its deadline. */
function untilAborted<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  work.catch(() => undefined)
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason)
    if (signal.aborted) return onAbort()
    signal.addEventListener('abort', onAbort, { once: true })
    work.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort))
  })
}

function describe(error: unknown, timeoutMs: number): string {
  if (error instanceof Error && error.name === 'TimeoutError') return `no answer within ${timeoutMs / 1000} s`
  if (error instanceof Error) {
    // fetch says only 'fetch failed'; the reason is in its cause.
    const cause = error.cause instanceof Error ? `: ${error.cause.message}` : ''
    return `${error.message}${cause}`
  }
  return String(error)
}

function withoutUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>
}
