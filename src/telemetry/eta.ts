/**
 * Rate and ETA from a stream of (time, items done) samples (invariant
 * honest-eta):
 * - the rate blends a recent window with the whole session, so it follows a
 *   job that speeds up or slows down without jumping on every burst;
 * - both are measured up to *now*, so while nothing completes the rate falls
 *   and the ETA grows, instead of freezing at its last optimistic value;
 * - the ETA is null until there is enough data, and always comes with an
 *   interval from the spread of the rates seen in the window.
 */

export interface Eta {
  /** Items per second, null while unknown. */
  readonly itemsPerSecond: number | null
  readonly etaSeconds: number | null
  readonly etaLow: number | null
  readonly etaHigh: number | null
  /** Why the ETA is null, in words. */
  readonly unknownBecause?: string
}

export interface EtaOptions {
  /** The shortest recent window, ms. @default 10_000 */
  readonly minWindowMs?: number
  /** The recent window as a share of the elapsed time. @default 0.2 */
  readonly windowShare?: number
  /** Weight of the recent window against the whole session. @default 0.6 */
  readonly recentWeight?: number
  /** No ETA before this much time has passed. @default 2_000 */
  readonly minElapsedMs?: number
  /** No ETA before this many items are done. @default 2 */
  readonly minItems?: number
}

interface Sample {
  readonly t: number
  readonly done: number
}

const MAX_SAMPLES = 2_048
const SUB_WINDOWS = 4

export class EtaEstimator {
  private readonly samples: Sample[] = []
  private readonly minWindowMs: number
  private readonly windowShare: number
  private readonly recentWeight: number
  private readonly minElapsedMs: number
  private readonly minItems: number

  /** `startedAt`: when this session began counting; `done` counts from 0 there. */
  constructor(private readonly startedAt: number, options: EtaOptions = {}) {
    this.minWindowMs = options.minWindowMs ?? 10_000
    this.windowShare = options.windowShare ?? 0.2
    this.recentWeight = options.recentWeight ?? 0.6
    this.minElapsedMs = options.minElapsedMs ?? 2_000
    this.minItems = options.minItems ?? 2
    this.samples.push({ t: startedAt, done: 0 })
  }

  /** Records that `done` items (this session, cumulative) were complete at time `t`. */
  observe(t: number, done: number): void {
    const last = this.samples.at(-1)!
    if (done === last.done) return
    this.samples.push({ t, done })
    if (this.samples.length > MAX_SAMPLES) this.thin()
  }

  estimate(now: number, remaining: number): Eta {
    const elapsed = now - this.startedAt
    const done = this.samples.at(-1)!.done
    if (remaining <= 0) return { itemsPerSecond: this.rateBetween(this.startedAt, now), etaSeconds: 0, etaLow: 0, etaHigh: 0 }
    if (done < this.minItems || elapsed < this.minElapsedMs) {
      return { itemsPerSecond: null, etaSeconds: null, etaLow: null, etaHigh: null, unknownBecause: 'waiting for the first items to finish' }
    }
    const window = Math.min(elapsed, Math.max(this.minWindowMs, elapsed * this.windowShare))
    const whole = this.rateBetween(this.startedAt, now)
    const recent = this.rateBetween(now - window, now)
    const rate = this.recentWeight * recent + (1 - this.recentWeight) * whole
    if (rate <= 0) {
      return { itemsPerSecond: 0, etaSeconds: null, etaLow: null, etaHigh: null, unknownBecause: 'nothing has finished recently' }
    }
    const rates = [whole, recent]
    for (let i = 0; i < SUB_WINDOWS; i++) {
      rates.push(this.rateBetween(now - window + (i * window) / SUB_WINDOWS, now - window + ((i + 1) * window) / SUB_WINDOWS))
    }
    const fastest = Math.max(rate, ...rates)
    const slowest = Math.max(Math.min(rate, ...rates), rate / 4)
    const eta = remaining / rate
    return { itemsPerSecond: rate, etaSeconds: eta, etaLow: remaining / fastest, etaHigh: remaining / slowest }
  }

  /** Items per second over [from, to], counting items by the time they completed. */
  private rateBetween(from: number, to: number): number {
    if (to <= from) return 0
    return ((this.doneAt(to) - this.doneAt(from)) * 1000) / (to - from)
  }

  /** Items done at time t (a step function through the samples). */
  private doneAt(t: number): number {
    let low = 0
    let high = this.samples.length - 1
    if (t < this.samples[0]!.t) return 0
    while (low < high) {
      const mid = (low + high + 1) >> 1
      if (this.samples[mid]!.t <= t) low = mid
      else high = mid - 1
    }
    return this.samples[low]!.done
  }

  /** Halves the samples, keeping the first and the newest, so memory stays bounded on long runs. */
  private thin(): void {
    const kept = this.samples.filter((_, i) => i % 2 === 0 || i === this.samples.length - 1)
    this.samples.length = 0
    this.samples.push(...kept)
  }
}
