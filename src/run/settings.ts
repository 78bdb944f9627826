import { availableParallelism } from 'node:os'
import { UsageError } from '../errors.ts'

/**
 * The timing and parallelism a run uses, whatever its work, every default filled in one place: map and loop runs
 * resolve their options here, and `longhaul exec` its own on top (work/exec/options.ts).
 */
export interface RunSettings {
  readonly workers: number
  /** Items in flight per process (`--concurrency`); undefined: the job's, else one per worker thread. */
  readonly concurrency: number | undefined
  readonly leaseTtlMs: number
  readonly heartbeatMs: number
  readonly progressEveryMs: number
  readonly stallAfterMs: number
  /** The run's clock. */
  readonly now: () => number
}

export interface RawRunSettings {
  /** Worker threads. @default the number of cores */
  readonly workers?: number
  /**
   * Async items in flight at once in this process, over all its worker threads, written in index order within
   * each range. Not part of the job's identity: a run may resume at another. @default the job's `concurrency`, else one per worker thread
   */
  readonly concurrency?: number
  /** The owner lease's time to live, ms. @default 30_000 */
  readonly leaseTtlMs?: number
  /** How often the lease is renewed and the heartbeat moves, ms. @default 10_000 */
  readonly heartbeatMs?: number
  /** How often progress.json and PROGRESS.txt are rewritten, ms (also at every commit and change of state). @default 10_000 */
  readonly progressEvery?: number
  /** A run that finishes nothing for this long is reported stalled, ms. @default 300_000 */
  readonly stallAfter?: number
  /** The run's clock. @default Date.now */
  readonly now?: () => number
}

/** Checks the options and fills in the defaults; throws a UsageError, before anything is opened, for a bad one. */
export function resolveRunSettings(raw: RawRunSettings): RunSettings {
  const timing = {
    workers: raw.workers ?? availableParallelism(),
    leaseTtlMs: raw.leaseTtlMs ?? 30_000,
    heartbeatMs: raw.heartbeatMs ?? 10_000,
    progressEveryMs: raw.progressEvery ?? 10_000,
    stallAfterMs: raw.stallAfter ?? 300_000,
  }
  const settings: RunSettings = Object.freeze({ ...timing, concurrency: raw.concurrency, now: raw.now ?? Date.now })
  for (const [flag, value] of [
    ['--workers', settings.workers],
    ['--concurrency', settings.concurrency ?? 1],
  ] as const) {
    if (!Number.isSafeInteger(value) || value < 1)
      throw new UsageError(`${flag} must be a whole number of at least 1, got ${value}`)
  }
  for (const [name, value] of Object.entries(timing)) {
    if (!(value > 0)) throw new UsageError(`${name} must be above 0, got ${value}`)
  }
  if (settings.heartbeatMs >= settings.leaseTtlMs) {
    throw new UsageError(
      `the heartbeat (${settings.heartbeatMs} ms) must come more often than the lease expires (${settings.leaseTtlMs} ms)`,
    )
  }
  return settings
}
