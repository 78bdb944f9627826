/**
 * Rate and ETA from a stream of (time, items done) samples (invariant
 * honest-eta). Three steps, each from the samples alone:
 *
 * 1. **The current regime.** A run's pace can change at a stroke (a warm-up
 *    ends, a cache fills, an API starts throttling). The likeliest change
 *    point is found (CUSUM) and accepted only if the stretch after it is
 *    faster or slower than *every* stretch of the same length before it, by
 *    `changeFactor`. Comparing with what was actually seen, rather than with
 *    a noise model, keeps bursty runs (nothing for 10 s, then 50 items) from
 *    looking like changes. This repeats towards the present; the pace is
 *    measured from the last accepted change, or from the start.
 * 2. **The trend within it.** The regime's items are cut into equal parts and
 *    a line is fitted to the parts' pace (seconds per item) against item
 *    number. A run that keeps slowing down (growing context, larger inputs)
 *    is projected along that line, but only as far ahead as it was measured,
 *    never beyond halving or doubling the pace, and only in the measure that
 *    the trend stands out of the parts' scatter.
 * 3. **Up to now.** The pace is measured up to *now*, not up to the last
 *    completion, so while nothing completes the rate falls and the ETA grows
 *    instead of freezing at its last optimistic value.
 *
 * The ETA is null until there is enough data, and always comes with an
 * interval: from the least to the most pessimistic of (no trend, the trend as
 * used, the trend followed to the end), widened by twice the relative
 * standard error that the parts' scatter gives for the pace measured and for
 * the items still to come.
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
  /** No ETA before this much time has passed. @default 2_000 */
  readonly minElapsedMs?: number
  /** No ETA before this many items are done. @default 2 */
  readonly minItems?: number
  /** A new regime is one faster or slower than anything seen before by this factor. @default 1.5 */
  readonly changeFactor?: number
  /** Items a new regime needs before the pace is measured from it alone. @default 8 */
  readonly minRegimeItems?: number
}

interface Sample {
  readonly t: number
  readonly done: number
}

interface Trend {
  /** Change of pace per item (s/item per item), scaled down by how little it stands out of the noise. */
  readonly slope: number
  /** The fitted change of pace per item, in full. */
  readonly fittedSlope: number
  /** Coefficient of variation of one item's duration, as the parts' scatter shows it. */
  readonly itemCv: number
}

/** Samples kept at most; past that, every other older sample is dropped (memory stays bounded). */
const MAX_SAMPLES = 2_048
/** The newest samples, never thinned, so that a recent change is seen at full resolution. */
const KEEP_RECENT = 512
/** Parts the regime's items are cut into to fit the trend. */
const PARTS = 16
/** A stretch is compared with at least this many stretches of its length before the change... */
const MIN_BLOCKS = 16
/** ...and at most this many (the most recent ones). */
const MAX_BLOCKS = 512
/** Width of the interval, in standard errors. */
const Z = 2
/** With too few items to fit a trend, an item's duration is taken to vary as much as its mean (cv 1). */
const NO_TREND: Trend = { slope: 0, fittedSlope: 0, itemCv: 1 }

export class EtaEstimator {
  private readonly samples: Sample[] = []
  private readonly minElapsedMs: number
  private readonly minItems: number
  private readonly changeFactor: number
  private readonly minRegimeItems: number

  /** `startedAt`: when this session began counting; `done` counts from 0 there. */
  constructor(
    private readonly startedAt: number,
    options: EtaOptions = {},
  ) {
    this.minElapsedMs = options.minElapsedMs ?? 2_000
    this.minItems = options.minItems ?? 2
    this.changeFactor = options.changeFactor ?? 1.5
    this.minRegimeItems = options.minRegimeItems ?? 8
    this.samples.push({ t: startedAt, done: 0 })
  }

  /** Records that `done` items (this session, cumulative) were complete at time `t`. Unchanged counts add nothing. */
  observe(t: number, done: number): void {
    const last = this.samples.at(-1)!
    if (done <= last.done || t < last.t) return
    // One sample per instant (the first one, the start, stays as it is).
    if (t === last.t && this.samples.length > 1) this.samples[this.samples.length - 1] = { t, done }
    else this.samples.push({ t, done })
    if (this.samples.length > MAX_SAMPLES) this.thin()
  }

  estimate(now: number, remaining: number): Eta {
    const last = this.samples.at(-1)!
    const at = Math.max(now, last.t)
    if (remaining <= 0) {
      const itemsPerSecond = last.done > 0 && at > this.startedAt ? (last.done * 1000) / (at - this.startedAt) : null
      return { itemsPerSecond, etaSeconds: 0, etaLow: 0, etaHigh: 0 }
    }
    if (last.done < Math.max(1, this.minItems)) return unknown('waiting for the first items to finish')
    if (at - this.startedAt < this.minElapsedMs) return unknown('measuring the rate for a few seconds first')
    const from = this.samples[this.regimeStart()]!
    const items = last.done - from.done
    const trend = items >= 2 * PARTS ? this.trend(from, items) : NO_TREND
    // Seconds per item over the regime, up to now: it grows while nothing completes.
    const meanPace = (at - from.t) / 1000 / items
    // The mean pace is the pace at the regime's middle item; the trend carries it to the present.
    const paceAt = (slope: number) => Math.max(meanPace + (slope * items) / 2, meanPace / 2)
    const eta = project(paceAt(trend.slope), trend.slope, Math.min(items, remaining), remaining, 2)
    const flat = meanPace * remaining
    const followed = project(paceAt(trend.fittedSlope), trend.fittedSlope, remaining, remaining, 4)
    const cv = trend.itemCv * Math.sqrt(1 / items + 1 / remaining)
    return {
      itemsPerSecond: 1 / paceAt(trend.slope),
      etaSeconds: eta,
      etaLow: Math.min(eta, flat, followed) / (1 + Z * cv),
      etaHigh: Math.max(eta, flat, followed) * (1 + Z * cv),
    }
  }

  /** The sample where the current regime began: the start, or the most recent accepted change (binary segmentation towards the present). */
  private regimeStart(): number {
    let from = 0
    for (;;) {
      const cut = this.likeliestChange(from)
      if (cut === undefined || !this.isNewRegime(from, cut)) return from
      from = cut
    }
  }

  /**
   * The sample after `from` (and before the last) where the count strays
   * furthest from a constant rate, weighted so that a change near either end
   * is found as readily as one in the middle (standardised CUSUM).
   */
  private likeliestChange(from: number): number | undefined {
    const start = this.samples[from]!
    const end = this.samples.at(-1)!
    const items = end.done - start.done
    if (items < 2 * this.minRegimeItems) return undefined
    let best: number | undefined
    let bestScore = 0
    for (let i = from + 1; i < this.samples.length - 1; i++) {
      const { t, done } = this.samples[i]!
      if (t <= start.t) continue
      const x = (t - start.t) / (end.t - start.t)
      const score = Math.abs(done - start.done - items * x) / Math.sqrt(x * (1 - x))
      if (score > bestScore) {
        bestScore = score
        best = i
      }
    }
    return best
  }

  /**
   * Whether the samples after `cut` are a new regime: enough items, and a
   * rate beyond `changeFactor` times the fastest, or below the slowest divided
   * by it, of the stretches of the same length (or shorter, to have at least
   * MIN_BLOCKS of them) between `from` and `cut`.
   */
  private isNewRegime(from: number, cut: number): boolean {
    const start = this.samples[from]!.t
    const { t: cutAt, done: cutDone } = this.samples[cut]!
    const end = this.samples.at(-1)!
    const items = end.done - cutDone
    if (items < this.minRegimeItems) return false
    const length = Math.min(end.t - cutAt, (cutAt - start) / MIN_BLOCKS)
    const rate = items / (end.t - cutAt)
    const blocks = Math.min(MAX_BLOCKS, Math.floor((cutAt - start) / length + 1e-9))
    let slowest = Number.POSITIVE_INFINITY
    let fastest = 0
    for (let k = 0; k < blocks; k++) {
      const blockEnd = cutAt - k * length
      const blockRate = (this.doneAt(blockEnd) - this.doneAt(blockEnd - length)) / length
      slowest = Math.min(slowest, blockRate)
      fastest = Math.max(fastest, blockRate)
    }
    return rate > this.changeFactor * fastest || rate * this.changeFactor < slowest
  }

  /** A least-squares line through the pace of PARTS equal parts of the regime's items, against item number. */
  private trend(from: Sample, items: number): Trend {
    const perPart = items / PARTS
    const position: number[] = []
    const pace: number[] = []
    let partStart = from.t
    for (let i = 1; i <= PARTS; i++) {
      const partEnd = this.timeAt(from.done + perPart * i)
      position.push(perPart * (i - 0.5))
      pace.push((partEnd - partStart) / 1000 / perPart)
      partStart = partEnd
    }
    const meanPosition = mean(position)
    const meanPace = mean(pace)
    let sxx = 0
    let sxy = 0
    for (let i = 0; i < PARTS; i++) {
      sxx += (position[i]! - meanPosition) ** 2
      sxy += (position[i]! - meanPosition) * (pace[i]! - meanPace)
    }
    const fittedSlope = sxy / sxx
    let squares = 0
    for (let i = 0; i < PARTS; i++) squares += (pace[i]! - meanPace - fittedSlope * (position[i]! - meanPosition)) ** 2
    const scatter = Math.sqrt(squares / (PARTS - 2))
    // t-statistic of the slope; the trend counts fully only well clear of 2, not at all below.
    const tStat = scatter > 0 ? Math.abs(fittedSlope) / (scatter / Math.sqrt(sxx)) : Number.POSITIVE_INFINITY
    const weight = Math.max(0, 1 - (2 / tStat) ** 2)
    return {
      slope: fittedSlope * weight,
      fittedSlope,
      itemCv: meanPace > 0 ? (scatter / meanPace) * Math.sqrt(perPart) : 1,
    }
  }

  /** The time at which `count` items were done, interpolated between the samples around it. */
  private timeAt(count: number): number {
    let low = 0
    let high = this.samples.length - 1
    while (low < high) {
      const mid = (low + high) >> 1
      if (this.samples[mid]!.done >= count) high = mid
      else low = mid + 1
    }
    const after = this.samples[low]!
    const before = this.samples[low - 1]
    if (!before) return after.t
    return before.t + ((count - before.done) / (after.done - before.done)) * (after.t - before.t)
  }

  /** Items done at time t (a step function through the samples). */
  private doneAt(t: number): number {
    if (t < this.samples[0]!.t) return 0
    let low = 0
    let high = this.samples.length - 1
    while (low < high) {
      const mid = (low + high + 1) >> 1
      if (this.samples[mid]!.t <= t) low = mid
      else high = mid - 1
    }
    return this.samples[low]!.done
  }

  /** Drops every other sample but the first and the KEEP_RECENT newest, so memory stays bounded on long runs. */
  private thin(): void {
    const firstRecent = this.samples.length - KEEP_RECENT
    const kept = this.samples.filter((_, i) => i === 0 || i % 2 === 0 || i >= firstRecent)
    this.samples.length = 0
    this.samples.push(...kept)
  }
}

/**
 * Seconds for `remaining` items starting at `pace` (s/item), the pace moving
 * by `slope` per item for `horizon` items and then holding, never beyond
 * `bound` times (or 1/`bound` of) the starting pace.
 */
function project(pace: number, slope: number, horizon: number, remaining: number, bound: number): number {
  const endPace = Math.min(Math.max(pace + slope * horizon, pace / bound), pace * bound)
  return (horizon * (pace + endPace)) / 2 + (remaining - horizon) * endPace
}

function unknown(because: string): Eta {
  return { itemsPerSecond: null, etaSeconds: null, etaLow: null, etaHigh: null, unknownBecause: because }
}

function mean(values: readonly number[]): number {
  return values.reduce((sum, value) => sum + value, 0) / values.length
}
