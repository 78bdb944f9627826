import { existsSync, readFileSync } from 'node:fs'
import { hostname } from 'node:os'
import { join } from 'node:path'
import { processAlive } from './processAlive.ts'
import { PROGRESS_JSON } from './progressFiles.ts'
import { duration as ago } from './progressText.ts'
import type { ProgressSnapshot } from './snapshot.ts'

export interface RunStatus {
  readonly dir: string
  /** progress.json as last written; a dead owner's rate and ETA are cleared, since they no longer hold. */
  readonly snapshot: ProgressSnapshot
  /** True while the owner process lives and keeps its heartbeat. */
  readonly live: boolean
  /** The file says running or stalled, but the owner is gone. */
  readonly ownerGone: boolean
  readonly heartbeatAgeSeconds: number
  /** One line for people: where the run stands. */
  readonly summary: string
}

/**
 * Where a run stands, from its progress.json alone: readable from another
 * terminal, another machine (a synced copy) or after the owner died. A run
 * whose file says running but whose heartbeat is older than three beats (or
 * whose owner process on this host is gone) is reported as not running.
 */
export function readStatus(dir: string, now: number): RunStatus | undefined {
  const path = join(dir, PROGRESS_JSON)
  if (!existsSync(path)) return undefined
  const written = JSON.parse(readFileSync(path, 'utf8')) as ProgressSnapshot
  const heartbeatAgeSeconds = (now - Date.parse(written.heartbeatAt)) / 1000
  const claimsLive = written.state === 'running' || written.state === 'stalled'
  const processGone = written.owner.host === hostname() && !processAlive(written.owner.pid)
  const silent = heartbeatAgeSeconds > Math.max(3 * written.heartbeatSeconds, 30)
  const ownerGone = claimsLive && (processGone || silent)
  const live = claimsLive && !ownerGone
  let snapshot = written
  let summary: string
  if (ownerGone) {
    snapshot = { ...written, itemsPerSecond: null, etaSeconds: null, etaLow: null, etaHigh: null, etaUnknownBecause: 'the run is not running' }
    summary = `not running — last heartbeat ${ago(heartbeatAgeSeconds)} ago (owner pid ${written.owner.pid} on ${written.owner.host}); run the same command to resume`
  } else if (written.state === 'stalled') {
    const quiet = (written.stalledForSeconds ?? 0) + (now - Date.parse(written.updatedAt)) / 1000
    snapshot = { ...written, stalledForSeconds: quiet }
    summary = `STALLED — nothing has finished for ${ago(quiet)}`
  } else {
    summary = written.state.toUpperCase()
  }
  return { dir, snapshot, live, ownerGone, heartbeatAgeSeconds, summary }
}
