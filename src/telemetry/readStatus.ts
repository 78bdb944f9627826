import { existsSync, readFileSync } from 'node:fs'
import { hostname } from 'node:os'
import { join } from 'node:path'
import { hasRun, runPaths } from '../store/runPaths.ts'
import { SqliteStore } from '../store/sqlite/sqliteStore.ts'
import type { RunEvent } from '../store/store.ts'
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
  return statusOf(JSON.parse(readFileSync(path, 'utf8')) as ProgressSnapshot, dir, now)
}

/**
 * Where a run stands from a progress.json read anywhere (a file, a dashboard,
 * a published copy): `where` names it. The owner's pid is checked only when
 * it runs on this host; elsewhere its heartbeat alone tells.
 */
export function statusOf(written: ProgressSnapshot, where: string, now: number): RunStatus {
  const dir = where
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

/** A run's status from its progress.json, else from its journal; undefined when `dir` holds no run. */
export async function readRunStatus(dir: string, now: number): Promise<RunStatus | undefined> {
  return readStatus(dir, now) ?? (await statusFromJournal(dir))
}

/**
 * A run with a journal but no progress.json (it has not written one yet, or
 * it predates progress files): what the journal says, through the store.
 */
async function statusFromJournal(dir: string): Promise<RunStatus | undefined> {
  if (!hasRun(dir)) return undefined
  const store = SqliteStore.open(runPaths(dir).journal, { readonly: true })
  try {
    const run = await store.getRun()
    if (!run) return undefined
    const done = await store.committedItems()
    const iso = new Date(run.updatedAt).toISOString()
    const claimsLive = run.state === 'running'
    const summary = `${run.state.toUpperCase()} (from the journal: this run has no progress.json${claimsLive ? '; if it is not running, run the same command to resume' : ''})`
    const snapshot: ProgressSnapshot = {
      job: run.job, runId: run.runId, state: run.state, done, total: run.total, percent: (100 * done) / run.total, inFlight: 0,
      itemsPerSecond: null, etaSeconds: null, etaLow: null, etaHigh: null, etaUnknownBecause: 'no progress.json', startedAt: new Date(run.createdAt).toISOString(),
      updatedAt: iso, heartbeatAt: iso, lastCheckpointAt: null, checkpoints: 0, workers: 0, elapsedSeconds: 0, stalledForSeconds: null,
      stallAfterSeconds: 0, refreshSeconds: 0, heartbeatSeconds: 0, owner: { pid: 0, host: '?' }, gate: null, error: null,
    }
    return { dir, snapshot, live: false, ownerGone: false, heartbeatAgeSeconds: 0, summary }
  } finally {
    await store.close()
  }
}

/** The last few events other than checkpoints, read through the store. */
export async function recentEvents(dir: string, limit = 6): Promise<RunEvent[]> {
  if (!hasRun(dir)) return []
  const store = SqliteStore.open(runPaths(dir).journal, { readonly: true })
  try {
    return (await store.events()).filter((e) => e.type !== 'checkpoint').slice(-limit)
  } finally {
    await store.close()
  }
}

