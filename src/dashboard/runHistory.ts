import { join, resolve } from 'node:path'
import { openRunJournal } from '../journal/runJournal.ts'
import type { RunEvent } from '../journal/store.ts'
import type { ProgressState } from '../telemetry/snapshot.ts'
import type { RunItem } from './runs.ts'

/** Runs of one job shown side by side: the newest. */
export const HISTORY_LIMIT = 30
const CONNECT_TIMEOUT_MS = 5_000

/** One run of a job, as the history table and the comparison show it. */
export interface HistoryRow {
  readonly id: string
  readonly dir: string
  /** running, complete, failed, interrupted, stalled, or not running (its owner is gone). */
  readonly outcome: ProgressState | 'not running'
  readonly createdAt: number
  readonly endedAt: number | null
  /** Seconds its sessions worked (the gaps between sessions left out). */
  readonly workingSeconds: number
  readonly sessions: number
  readonly done: number
  readonly total: number | null
  /** Items committed per working second. */
  readonly itemsPerSecond: number | null
  readonly digest: string | null
  readonly fingerprint: string | null
  readonly params: unknown
  readonly seed: number | null
  readonly usage: Readonly<Record<string, number>> | null
}

/** Every run in `runs` of the same job as `of`, newest first, with what its journal says of its sessions and digest. */
export async function runHistory(
  root: string,
  of: RunItem,
  runs: readonly RunItem[],
  now: number,
): Promise<HistoryRow[]> {
  const same = runs
    .filter((r) => r.snapshot.job === of.snapshot.job)
    .sort((a, b) => Date.parse(b.snapshot.startedAt) - Date.parse(a.snapshot.startedAt))
    .slice(0, HISTORY_LIMIT)
  const rows: HistoryRow[] = []
  for (const run of same) rows.push(await historyRow(root, run, now))
  return rows.sort((a, b) => b.createdAt - a.createdAt)
}

async function historyRow(root: string, run: RunItem, now: number): Promise<HistoryRow> {
  const s = run.snapshot
  const base = {
    id: run.id,
    dir: run.dir,
    outcome: run.ownerGone ? ('not running' as const) : s.state,
    done: s.done,
    total: s.total,
    usage: s.usage ?? null,
  }
  const journal = await openRunJournal(join(resolve(root), run.dir), { connectTimeoutMs: CONNECT_TIMEOUT_MS }).catch(
    () => undefined,
  )
  if (!journal) {
    const working = s.elapsedSeconds
    return {
      ...base,
      createdAt: Date.parse(s.startedAt),
      endedAt: null,
      workingSeconds: working,
      sessions: 1,
      itemsPerSecond: working > 0 ? s.done / working : null,
      digest: null,
      fingerprint: null,
      params: null,
      seed: null,
    }
  }
  try {
    const record = await journal.store.getRun()
    const events = await journal.store.events()
    const { workingSeconds, sessions, endedAt } = sessionsOf(events, run.live ? now : null)
    let identity: { params?: unknown; seed?: unknown } = {}
    try {
      identity = JSON.parse(record?.identity ?? '{}') as typeof identity
    } catch {
      // Not JSON: no params to show.
    }
    const completed = events.findLast((e) => e.type === 'complete')
    return {
      ...base,
      createdAt: record?.createdAt ?? Date.parse(s.startedAt),
      endedAt,
      workingSeconds,
      sessions,
      itemsPerSecond: workingSeconds > 0 ? s.done / workingSeconds : null,
      digest: record?.finalDigest ?? (typeof completed?.detail.digest === 'string' ? completed.detail.digest : null),
      fingerprint: record?.fingerprint ?? null,
      params: identity.params ?? null,
      seed: typeof identity.seed === 'number' ? identity.seed : null,
    }
  } finally {
    await journal.store.close()
  }
}

const SESSION = new Set(['started', 'resumed'])
const END = new Set(['complete', 'failed', 'interrupted'])

/**
 * How long a run's sessions worked: each from its started/resumed event to
 * its end event, or to the last event it wrote before the next session (a
 * session that was killed writes no end); a live run's current session to `liveAt`.
 */
export function sessionsOf(
  events: readonly RunEvent[],
  liveAt: number | null,
): {
  workingSeconds: number
  sessions: number
  endedAt: number | null
} {
  let total = 0
  let sessions = 0
  let from: number | null = null
  let last = 0
  let endedAt: number | null = null
  for (const e of events) {
    if (SESSION.has(e.type)) {
      if (from !== null) total += last - from
      from = e.at
      sessions++
      endedAt = null
    } else if (END.has(e.type) && from !== null) {
      total += e.at - from
      from = null
      endedAt = e.at
    }
    last = e.at
  }
  if (from !== null) total += (liveAt ?? last) - from
  return { workingSeconds: total / 1000, sessions, endedAt }
}
