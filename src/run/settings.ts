import { availableParallelism } from 'node:os'
import { UsageError } from '../errors.ts'

/** The timing and parallelism a run uses, every default filled in one place. */
export interface RunSettings {
  readonly workers: number
  readonly leaseTtlMs: number
  readonly heartbeatMs: number
  readonly progressEveryMs: number
  readonly stallAfterMs: number
}

export interface RawRunSettings {
  /** Worker threads. @default the number of cores */
  readonly workers?: number
  /** The owner lease's time to live, ms. @default 30_000 */
  readonly leaseTtlMs?: number
  /** How often the lease is renewed and the heartbeat moves, ms. @default 10_000 */
  readonly heartbeatMs?: number
  /** How often progress.json and PROGRESS.txt are rewritten, ms (also at every commit and change of state). @default 10_000 */
  readonly progressEvery?: number
  /** A run that finishes nothing for this long is reported stalled, ms. @default 300_000 */
  readonly stallAfter?: number
}

export function resolveRunSettings(raw: RawRunSettings): RunSettings {
  const settings: RunSettings = {
    workers: raw.workers ?? availableParallelism(),
    leaseTtlMs: raw.leaseTtlMs ?? 30_000,
    heartbeatMs: raw.heartbeatMs ?? 10_000,
    progressEveryMs: raw.progressEvery ?? 10_000,
    stallAfterMs: raw.stallAfter ?? 300_000,
  }
  if (!Number.isSafeInteger(settings.workers) || settings.workers < 1) {
    throw new UsageError(`--workers must be a whole number of at least 1, got ${settings.workers}`)
  }
  for (const [name, value] of Object.entries(settings)) {
    if (!(value > 0)) throw new UsageError(`${name} must be above 0, got ${value}`)
  }
  if (settings.heartbeatMs >= settings.leaseTtlMs) {
    throw new UsageError(
      `the heartbeat (${settings.heartbeatMs} ms) must come more often than the lease expires (${settings.leaseTtlMs} ms)`,
    )
  }
  return settings
}
