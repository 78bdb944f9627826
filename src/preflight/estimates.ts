import { existsSync } from 'node:fs'
import { statfs } from 'node:fs/promises'
import { dirname, resolve } from 'node:path'
import { EtaEstimator } from '../telemetry/eta.ts'

/** Free space where the output will go; injectable so tests can fake a small disk. */
export type DiskProbe = (dir: string) => Promise<{ readonly freeBytes: number }>

export const statfsProbe: DiskProbe = async (dir) => {
  let existing = resolve(dir)
  while (!existsSync(existing) && dirname(existing) !== existing) existing = dirname(existing)
  const stats = await statfs(existing)
  return { freeBytes: stats.bavail * stats.bsize }
}

/** One commit of a run: when, and how many items were committed by then (this session). */
export interface CommitPoint {
  readonly at: number
  readonly done: number
}

export interface DurationProjection {
  /** The run's wall time, from the command to its exit, seconds; null when the rehearsal gave too little to go on. */
  readonly seconds: number | null
  readonly low: number | null
  readonly high: number | null
  /** The part of a run that does not grow with items (start-up before the first commit, wrap-up after the last), as measured: median, least, most. */
  readonly overheadSeconds: { readonly median: number; readonly least: number; readonly most: number } | null
}

/**
 * The target's duration as the user will see it: from the command to its
 * exit. It is two parts, measured separately (invariant honest-eta):
 *
 * - **The fixed part**: what a run spends outside its items' steady flow —
 *   loading the job, opening the journal, starting the worker threads, its
 *   first range, and closing after its last commit. A short rehearsal is
 *   mostly this, so it must not be read as a rate. It is the run's wall time
 *   less the time from its first commit to its last, measured on every
 *   complete run preflight made (`overheadsMs`); the interval spans what was
 *   seen, widened by half that spread on each side.
 * - **The items**: the rehearsal's commits from its first to its last are
 *   fed, all as one regime (a rehearsal is short; what looks like a change of
 *   pace in it is the range sizes growing, not the job), to the estimator the
 *   live ETA uses, which fits the trend of a job that slows down and carries
 *   it to the target, with an interval from no trend to the trend followed to
 *   the end, widened by the items' scatter. A job that speeds up instead
 *   (code warming up, ranges growing to their size: a short rehearsal of fast
 *   items is mostly this) is carried at the pace it reached, its later half's.
 */
export function projectDuration(
  timeline: readonly CommitPoint[],
  target: number,
  overheadsMs: readonly number[],
): DurationProjection {
  const unknown: DurationProjection = { seconds: null, low: null, high: null, overheadSeconds: null }
  const points = [...timeline].sort((a, b) => a.at - b.at)
  const first = points[0]
  const last = points.at(-1)
  const overheads = overheadsMs.filter((ms) => ms >= 0).sort((a, b) => a - b)
  if (!first || !last || last.done <= first.done || overheads.length === 0) return unknown
  // The first ranges are of one item each and grow from there (a start-up cost, paid once by the real run as well): the
  // pace and its trend are measured from the first commit after a tenth of the rehearsal's items, the time before it
  // counted once, as it was spent.
  const origin = points.find((p) => p.done - first.done >= 0.1 * (last.done - first.done) && p.at < last.at) ?? first
  const measured = points.filter((p) => p.at >= origin.at)
  const estimator = new EtaEstimator(origin.at, {
    minElapsedMs: 0,
    minItems: 1,
    changeFactor: Number.POSITIVE_INFINITY,
  })
  for (const p of measured) estimator.observe(p.at, p.done - origin.done)
  const remaining = Math.max(0, target - last.done)
  const eta = estimator.estimate(last.at, remaining)
  if (eta.etaSeconds === null || eta.etaLow === null || eta.etaHigh === null) return unknown
  const window = (last.at - first.at) / 1000
  // The projection itself assumes the rehearsal's pace holds: a trend fitted on a short rehearsal and carried ten times
  // as far moves with every preflight. The trend, as used and as followed to the end, is in the interval.
  const flat = ((last.at - origin.at) / 1000 / (last.done - origin.done)) * remaining
  const halves = halvesOf(measured)
  // Sped up from the first half to the second by more than the commits' scatter: the pace reached is the one the
  // run goes on at, and the interval reaches a quarter faster still.
  const reached = halves && halves.later < SPED_UP * halves.earlier ? halves.later * remaining : flat
  // With few commits, neither a trend nor the items' scatter can be seen: the pace may be half or twice what it seemed.
  const sparse = measured.length < SPARSE_COMMITS
  const itemsLow = Math.min(sparse ? Math.min(eta.etaLow, flat / 2) : eta.etaLow, reached / 1.25)
  // A slowdown too gentle for the fitted trend to stand out of the commits' scatter still shows between the measured
  // items' two halves: followed to the end, with a quarter more for the scatter, it bounds the interval too.
  const slowing = halves ? slowdownFollowed(halves, remaining) * 1.25 : 0
  const itemsHigh = Math.max(sparse ? Math.max(eta.etaHigh, flat * 2) : eta.etaHigh, slowing)
  const least = overheads[0]! / 1000
  const most = overheads.at(-1)! / 1000
  const median = overheads[Math.floor((overheads.length - 1) / 2)]! / 1000
  const slack = Math.max((most - least) / 2, 0.1 * median)
  return {
    seconds: median + window + reached,
    low: Math.max(0, least - slack) + window + itemsLow,
    high: most + slack + window + itemsHigh,
    overheadSeconds: { median, least, most },
  }
}

/** The measured items' pace in their first half and in their second, seconds per item. */
interface Halves {
  readonly earlier: number
  readonly later: number
  /** Items in each half. */
  readonly half: number
}

function halvesOf(points: readonly CommitPoint[]): Halves | undefined {
  const first = points[0]
  const last = points.at(-1)
  if (!first || !last || last.done - first.done < 2) return undefined
  const middle = first.done + (last.done - first.done) / 2
  const after = points.findIndex((p) => p.done >= middle)
  const a = points[Math.max(0, after - 1)]!
  const b = points[after]!
  const middleAt = b.done === a.done ? b.at : a.at + ((middle - a.done) / (b.done - a.done)) * (b.at - a.at)
  const half = (last.done - first.done) / 2
  return { earlier: (middleAt - first.at) / 1000 / half, later: (last.at - middleAt) / 1000 / half, half }
}

/**
 * Seconds for `remaining` more items if the pace keeps changing as it did
 * from the first half of the measured items to the second, followed to the
 * end (at most 4× the pace now); 0 when the second half was not slower.
 */
function slowdownFollowed({ earlier, later, half }: Halves, remaining: number): number {
  if (!(later > earlier)) return 0
  const slope = (later - earlier) / half
  // The later half's pace is its middle item's; the pace at the last item is half a half further along.
  const now = later + (slope * half) / 2
  const end = Math.min(now + slope * remaining, 4 * now)
  const reached = end === now + slope * remaining ? remaining : (end - now) / slope
  return (reached * (now + end)) / 2 + (remaining - reached) * end
}

/** A second half this much faster than the first (per item) is a job speeding up, not the commits' scatter. */
const SPED_UP = 0.8

/** Fewer commits than this after the first tenth of the rehearsal show no trend and no scatter. */
const SPARSE_COMMITS = 8

/** A complete run's fixed part, ms: its wall time less the time from its first commit to its last. */
export function overheadMs(wallMs: number, timeline: readonly CommitPoint[]): number | undefined {
  if (timeline.length === 0) return undefined
  const times = timeline.map((p) => p.at)
  return wallMs - (Math.max(...times) - Math.min(...times))
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
  return {
    bytesPerItem,
    projectedGrowthBytes: Math.max(0, bytesPerItem) * Math.max(0, target - larger.items),
    smaller,
    larger,
  }
}
