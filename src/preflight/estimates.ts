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

/** One run's size and the memory its worker threads retained at the end (after a full collection). */
export interface MemoryPoint {
  readonly items: number
  readonly retainedBytes: number | null
}

export interface MemoryGrowth {
  /** Extra retained memory per extra item between the smaller and the larger run, bytes; null when not measurable. */
  readonly bytesPerItem: number | null
  /** That slope carried from the larger run to the target, bytes. */
  readonly projectedGrowthBytes: number | null
  readonly smaller: MemoryPoint
  readonly larger: MemoryPoint
}

/** Retained memory that differs by less than this between the two runs is noise, not growth. */
const NOISE_FLOOR_BYTES = 8 * 1024 * 1024
/** The larger run must be at least this many times the smaller for the slope to mean anything. */
const MIN_SCALE = 3

/**
 * Does memory grow with items (invariant bounded-memory)? The same job on
 * the same worker count, at two scales, measured after a full collection: a
 * bounded job retains about the same whatever its total; one that keeps its
 * items retains more in proportion to them. (Peak resident memory would not
 * do: garbage piles up until the collector runs, later in a longer run.)
 */
export function memoryGrowth(a: MemoryPoint, b: MemoryPoint, target: number): MemoryGrowth {
  const [smaller, larger] = a.items <= b.items ? [a, b] : [b, a]
  if (smaller.retainedBytes === null || larger.retainedBytes === null || larger.items < smaller.items * MIN_SCALE) {
    return { bytesPerItem: null, projectedGrowthBytes: null, smaller, larger }
  }
  // Below the noise floor (heap bookkeeping, lazily compiled code), no growth is measured: carrying noise to a far target would fail sound jobs.
  const grown = larger.retainedBytes - smaller.retainedBytes
  const bytesPerItem = grown < NOISE_FLOOR_BYTES ? 0 : grown / (larger.items - smaller.items)
  return { bytesPerItem, projectedGrowthBytes: Math.max(0, bytesPerItem) * Math.max(0, target - larger.items), smaller, larger }
}
