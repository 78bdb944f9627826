import { statfs } from 'node:fs/promises'
import { existsSync } from 'node:fs'
import { dirname, resolve } from 'node:path'
import { EtaEstimator } from '../telemetry/eta.ts'
import type { ProgressSample } from './childRun.ts'

/** Free space where the output will go; injectable so tests can fake a small disk. */
export type DiskProbe = (dir: string) => Promise<{ readonly freeBytes: number }>

export const statfsProbe: DiskProbe = async (dir) => {
  let existing = resolve(dir)
  while (!existsSync(existing) && dirname(existing) !== existing) existing = dirname(existing)
  const stats = await statfs(existing)
  return { freeBytes: stats.bavail * stats.bsize }
}

export interface DurationProjection {
  readonly seconds: number | null
  readonly low: number | null
  readonly high: number | null
}

/**
 * The target's duration, projected from the rehearsal's committed-items
 * timeline with the same estimator the live ETA uses (its trend and interval).
 */
export function projectDuration(samples: readonly ProgressSample[], target: number): DurationProjection {
  const live = samples.filter((s) => s.state === 'running' || s.state === 'complete')
  if (live.length < 2) return { seconds: null, low: null, high: null }
  const first = live[0]!
  const estimator = new EtaEstimator(first.at, { minElapsedMs: 0 })
  for (const s of live) estimator.observe(s.at, s.done - first.done)
  const last = live.at(-1)!
  const eta = estimator.estimate(last.at, target - (last.done - first.done))
  const elapsed = (last.at - first.at) / 1000
  const plus = (value: number | null): number | null => (value === null ? null : value + elapsed)
  return { seconds: plus(eta.etaSeconds), low: plus(eta.etaLow), high: plus(eta.etaHigh) }
}

export interface MemoryGrowth {
  /** Least-squares slope of resident memory against items done, bytes per item; null when too few samples. */
  readonly bytesPerItem: number | null
  /** The slope carried from the rehearsal's last sample to the target, bytes. */
  readonly projectedGrowthBytes: number | null
  readonly samples: number
  readonly firstRssBytes: number | null
  readonly lastRssBytes: number | null
}

/** Samples before this share of the rehearsal are warm-up (threads starting, caches filling) and are left out. */
const WARM_UP_SHARE = 0.2
const MIN_SAMPLES = 5

/** Does memory grow with items (invariant bounded-memory)? Fitted on the rehearsal's samples after warm-up. */
export function memoryGrowth(samples: readonly ProgressSample[], rehearsalItems: number, target: number): MemoryGrowth {
  const points = samples.filter((s) => s.rssBytes !== null && s.done >= rehearsalItems * WARM_UP_SHARE).map((s) => ({ x: s.done, y: s.rssBytes! }))
  const first = points[0]?.y ?? null
  const last = points.at(-1)?.y ?? null
  const spread = points.length ? points.at(-1)!.x - points[0]!.x : 0
  if (points.length < MIN_SAMPLES || spread <= 0) return { bytesPerItem: null, projectedGrowthBytes: null, samples: points.length, firstRssBytes: first, lastRssBytes: last }
  const n = points.length
  const mx = points.reduce((sum, p) => sum + p.x, 0) / n
  const my = points.reduce((sum, p) => sum + p.y, 0) / n
  const sxy = points.reduce((sum, p) => sum + (p.x - mx) * (p.y - my), 0)
  const sxx = points.reduce((sum, p) => sum + (p.x - mx) ** 2, 0)
  const slope = sxx > 0 ? sxy / sxx : 0
  const lastDone = points.at(-1)!.x
  return { bytesPerItem: slope, projectedGrowthBytes: Math.max(0, slope) * Math.max(0, target - lastDone), samples: n, firstRssBytes: first, lastRssBytes: last }
}
