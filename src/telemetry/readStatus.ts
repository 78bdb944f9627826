import { existsSync, readFileSync } from 'node:fs'
import { hostname } from 'node:os'
import { join } from 'node:path'
import { processAlive } from './processAlive.ts'
import { PROGRESS_JSON } from './progressFiles.ts'
import type { ProgressSnapshot } from './snapshot.ts'

export interface RunStatus {
  readonly dir: string
  readonly snapshot: ProgressSnapshot
  /** False when the run claims to be running but its owner is gone. */
  readonly live: boolean
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
  const snapshot = JSON.parse(readFileSync(path, 'utf8')) as ProgressSnapshot
  const heartbeatAgeSeconds = (now - Date.parse(snapshot.heartbeatAt)) / 1000
  const claimsLive = snapshot.state === 'running' || snapshot.state === 'stalled'
  const ownerGone = snapshot.owner.host === hostname() && !processAlive(snapshot.owner.pid)
  const silent = heartbeatAgeSeconds > Math.max(3 * snapshot.heartbeatSeconds, 30)
  const live = claimsLive && !ownerGone && !silent
  let summary: string
  if (claimsLive && !live) {
    summary = `not running — last heartbeat ${ago(heartbeatAgeSeconds)} ago (owner pid ${snapshot.owner.pid} on ${snapshot.owner.host}); run the same command to resume`
  } else if (snapshot.state === 'stalled') {
    summary = `STALLED — nothing has finished for ${ago(snapshot.stalledForSeconds ?? 0)}`
  } else {
    summary = snapshot.state.toUpperCase()
  }
  return { dir, snapshot, live, heartbeatAgeSeconds, summary }
}

function ago(seconds: number): string {
  const s = Math.round(seconds)
  if (s < 120) return `${s}s`
  if (s < 7200) return `${Math.round(s / 60)} min`
  return `${(s / 3600).toFixed(1)} h`
}
