/**
 * One limiter for every worker thread of a process, in a SharedArrayBuffer: each unit's next free moment, moved on
 * with a compare-and-swap (a generic cell-rate pacer: calls are spaced evenly, no burst is saved up while idle), so a
 * thread takes its place in line without asking the coordinator. Measured: 0.6–2.5 µs a take with its await, against
 * 40–70 µs for a message to the coordinator and back (bench/cases/ratelimit.mjs, bench/README.md).
 *
 * It paces as if each window were LATE_FRACTION longer, plus LATE_MS: a call that reaches the service up to that late
 * (a thread's first call opens its connection: ~130 ms on a loaded 2-core machine) still cannot put one call too many
 * in any window, fixed or sliding. At 600/min that costs 2.2% of the limit; at 20/s, 15%. The buffer also holds when
 * every call waits until (a service's Retry-After), how long items spent waiting, how many answers said "rate limited",
 * and the share of the limit this process takes (a shared run divides it by its live processes).
 */
import { limitText, type RateLimit, type UnitLimit } from '../../job/rateLimit.ts'

/** How late a call may reach the service, as a fraction of the window plus a fixed time, without going over. */
const LATE_FRACTION = 0.02
const LATE_MS = 150

const PAUSED_UNTIL = 0
const WAITED_NS = 1
const LIMITED_ANSWERS = 2
const SHARE = 3
const UNITS = 4

/** What a run's limiter is made from, given to every worker thread. */
export interface LimiterSetup {
  readonly buffer: SharedArrayBuffer
  readonly limit: RateLimit
}

/** Made once by the coordinator: the buffer every thread opens. */
export function limiterSetup(limit: RateLimit): LimiterSetup {
  const buffer = new SharedArrayBuffer((UNITS + limit.length) * 8)
  new BigInt64Array(buffer)[SHARE] = 1n
  return { buffer, limit }
}

/** Nanoseconds since the epoch (to a fraction of a microsecond), the same clock in every thread. */
function nowNs(): bigint {
  return BigInt(Math.round((performance.timeOrigin + performance.now()) * 1e6))
}

export class SharedLimiter {
  private readonly cells: BigInt64Array
  private readonly unitIndex = new Map<string, number>()

  constructor(private readonly setup: LimiterSetup) {
    this.cells = new BigInt64Array(setup.buffer)
    setup.limit.forEach((l, i) => this.unitIndex.set(l.unit, i))
  }

  /** The limit in words, '' when there is none. */
  get text(): string {
    return limitText(this.setup.limit)
  }

  /** Whether a call must take its place first: the run has a limit, or a service has asked for a pause (Retry-After). */
  get paces(): boolean {
    return this.setup.limit.length > 0 || Atomics.load(this.cells, PAUSED_UNTIL) > 0n
  }

  /**
   * Takes `amounts` of the limited units (unnamed ones are not limited), waiting until they are free and until any
   * Retry-After has passed; the wait is counted. Resolves false if `stopping` turned true while it waited.
   */
  async take(amounts: Readonly<Record<string, number>>, stopping: () => boolean = () => false): Promise<boolean> {
    const ms = this.reserve(amounts)
    return ms > 0 ? await this.wait(ms, stopping) : true
  }

  /**
   * Takes `amounts` of the limited units in line and says how long the caller must wait, ms (0: none), until they are
   * free and any Retry-After has passed: take() without the wait, for a caller that waits elsewhere (a Python worker
   * process, which counts its wait with countWaited).
   */
  reserve(amounts: Readonly<Record<string, number>>): number {
    const now = nowNs()
    const paused = Atomics.load(this.cells, PAUSED_UNTIL)
    let until = paused
    const share = Atomics.load(this.cells, SHARE)
    for (const [unit, amount] of Object.entries(amounts)) {
      const i = this.unitIndex.get(unit)
      if (i === undefined || !(amount > 0)) continue
      const l = this.setup.limit[i]!
      const spacing = BigInt(Math.ceil(spacingNs(l, Number(share)) * amount))
      const cell = UNITS + i
      for (;;) {
        const next = Atomics.load(this.cells, cell)
        // In line after the last call and after any pause: calls held by a pause (a Retry-After, a process waiting to
        // be counted) are spaced out after it, not all let go at its end.
        let start = now
        if (paused > start) start = paused
        if (next > start) start = next
        if (Atomics.compareExchange(this.cells, cell, next, start + spacing) === next) {
          if (start > until) until = start
          break
        }
      }
    }
    // Under a microsecond is below what the clock tells apart (epoch nanoseconds in a double): no wait.
    return until - now > 1_000n ? Number(until - now) / 1e6 : 0
  }

  /** Every call of every thread waits until `ms` from now (a service's Retry-After). */
  pauseFor(ms: number): void {
    const until = nowNs() + BigInt(Math.round(ms * 1e6))
    for (;;) {
      const paused = Atomics.load(this.cells, PAUSED_UNTIL)
      if (paused >= until || Atomics.compareExchange(this.cells, PAUSED_UNTIL, paused, until) === paused) return
    }
  }

  /** When the last Retry-After is up, on performance.now()'s clock. */
  private pausedUntil(): number {
    return Number(Atomics.load(this.cells, PAUSED_UNTIL)) / 1e6 - performance.timeOrigin
  }

  /** An answer said "rate limited". */
  countLimited(): void {
    Atomics.add(this.cells, LIMITED_ANSWERS, 1n)
  }

  /**
   * Sleeps `ms`, and then for as long as a Retry-After set meanwhile holds every call (another thread's call may be
   * answered 429 while this one waits its turn), counted as time waited on the limit; false if `stopping` turned true
   * meanwhile (checked every 200 ms).
   */
  async wait(ms: number, stopping: () => boolean = () => false): Promise<boolean> {
    const started = performance.now()
    const end = started + ms
    try {
      for (let left = ms; left > 0; left = Math.max(end, this.pausedUntil()) - performance.now()) {
        if (stopping()) return false
        await new Promise((resolve) => setTimeout(resolve, Math.min(left, 200)))
      }
      return true
    } finally {
      Atomics.add(this.cells, WAITED_NS, BigInt(Math.round((performance.now() - started) * 1e6)))
    }
  }

  /** Items waited `ms` on the limit or a service's Retry-After, elsewhere than in wait(). */
  countWaited(ms: number): void {
    if (ms > 0) Atomics.add(this.cells, WAITED_NS, BigInt(Math.round(ms * 1e6)))
  }

  /** This process takes 1/`processes` of the limit (a shared run). */
  setShare(processes: number): void {
    Atomics.store(this.cells, SHARE, BigInt(Math.max(1, Math.round(processes))))
  }

  /** What the progress files show. */
  reading(): { waitingSeconds: number; rateLimitedAnswers: number; share: number } {
    return {
      waitingSeconds: Number(Atomics.load(this.cells, WAITED_NS)) / 1e9,
      rateLimitedAnswers: Number(Atomics.load(this.cells, LIMITED_ANSWERS)),
      share: Number(Atomics.load(this.cells, SHARE)),
    }
  }
}

/**
 * Nanoseconds between two units of `l` for one of `share` processes, each pacing on its own. Each can have one call
 * more in a window than its even share (the fencepost: a call at each end); the window's LATE_FRACTION covers one
 * such call, and the other processes' are taken out of the amount, so that all of them together, in step, stay
 * within it.
 */
function spacingNs(l: UnitLimit, share: number): number {
  const padded = (l.perMs * (1 + LATE_FRACTION) + LATE_MS) * 1e6
  return (padded * share) / Math.max(1, l.amount - share + 1)
}
