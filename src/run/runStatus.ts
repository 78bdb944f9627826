import { hostname } from 'node:os'
import type { RunRecord } from '../journal/store.ts'
import { processAlive } from '../telemetry/processAlive.ts'
import { duration as ago } from '../telemetry/progressText.ts'
import type { ProgressSnapshot } from '../telemetry/snapshot.ts'

export interface RunStatus {
  readonly dir: string
  /** progress.json as last written; a dead owner's rate and ETA are cleared, since they no longer hold. */
  readonly snapshot: ProgressSnapshot
  /** True while the owner process lives and keeps its heartbeat; for a shared run, while any of its processes is still at work. */
  readonly live: boolean
  /** The file says running or stalled, but the owner is gone (and, for a shared run, nobody else is at work either). */
  readonly ownerGone: boolean
  readonly heartbeatAgeSeconds: number
  /** One line for people: where the run stands. */
  readonly summary: string
  /** A run whose journal is in PostgreSQL: who is still at work on it, as the journal says. */
  readonly shared?: SharedRunFacts
  /** A file of the run that could not be read (the rest was read from the journal), and what to do about it. */
  readonly problem?: string
}

export interface SharedRunFacts {
  /** The database (without password) and the run's id in it. */
  readonly store: string
  readonly runId: string
  /** The owner holds its lease (and, when it runs on this host, its process lives). */
  readonly ownerAlive: boolean
  /** The other processes (host:pid) holding a claim that has not expired. */
  readonly workers: readonly string[]
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
  const processGone = !processAliveHere(written.owner.host, written.owner.pid)
  const silent = heartbeatAgeSeconds > Math.max(3 * written.heartbeatSeconds, 30)
  const ownerGone = claimsLive && (processGone || silent)
  const live = claimsLive && !ownerGone
  let snapshot = written
  let summary: string
  if (ownerGone) {
    snapshot = withoutRate(written, 'the run is not running')
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

/** False only for a process of this host that no longer exists: on another host, only a lease or a heartbeat can tell. */
export function processAliveHere(host: string, pid: number): boolean {
  return host !== hostname() || processAlive(pid)
}

/** The snapshot with its rate and ETA cleared, since they no longer hold. */
export function withoutRate(snapshot: ProgressSnapshot, because: string | null): ProgressSnapshot {
  return {
    ...snapshot,
    itemsPerSecond: null,
    etaSeconds: null,
    etaLow: null,
    etaHigh: null,
    etaUnknownBecause: because,
  }
}

/** A snapshot made from the journal alone, for a run without progress.json: its counts and times, nothing measured. */
export function snapshotFromJournal(run: RunRecord, done: number): ProgressSnapshot {
  return unmeasuredSnapshot({
    job: run.job,
    runId: run.runId,
    state: run.state,
    done,
    total: run.total,
    startedAt: new Date(run.createdAt).toISOString(),
    at: new Date(run.updatedAt).toISOString(),
    because: 'no progress.json',
  })
}

/** A snapshot of what is known of a run whose progress was not measured: counts and times, no rate, ETA or owner. */
export function unmeasuredSnapshot(o: {
  job: string
  runId: string
  state: ProgressSnapshot['state']
  done: number
  total: number | null
  startedAt: string
  /** Its last update (and heartbeat). */
  at: string
  /** Why there is no ETA. */
  because: string
}): ProgressSnapshot {
  return {
    job: o.job,
    runId: o.runId,
    state: o.state,
    done: o.done,
    total: o.total,
    percent: o.total ? (100 * o.done) / o.total : null,
    inFlight: 0,
    itemsPerSecond: null,
    etaSeconds: null,
    etaLow: null,
    etaHigh: null,
    etaUnknownBecause: o.because,
    startedAt: o.startedAt,
    updatedAt: o.at,
    heartbeatAt: o.at,
    lastCheckpointAt: null,
    checkpoints: 0,
    workers: 0,
    elapsedSeconds: 0,
    stalledForSeconds: null,
    stallAfterSeconds: 0,
    refreshSeconds: 0,
    heartbeatSeconds: 0,
    owner: { pid: 0, host: '?' },
    gate: null,
    error: null,
  }
}
