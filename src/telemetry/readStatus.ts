import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { isRunDir } from '../store/runPaths.ts'
import { openRunJournal, readStoreLink, type StoreLink } from '../store/runJournal.ts'
import type { RunEvent, Store } from '../store/store.ts'
import { PROGRESS_JSON } from './progressFiles.ts'
import { snapshotFromJournal, statusOf, type RunStatus } from './runStatus.ts'
import { sharedRunStatus } from './sharedStatus.ts'
import type { ProgressSnapshot } from './snapshot.ts'

/** How long `status`, `watch` and the dashboard wait for a run's PostgreSQL server to answer. */
const CONNECT_TIMEOUT_MS = 5_000

/**
 * True when `dir` is a folder `status` and the dashboard can report on: a
 * run's journal (SQLite) or its link to one (PostgreSQL, `.longhaul/store.json`),
 * or a progress.json alone (a copy from another machine).
 */
export function holdsRun(dir: string): boolean {
  return isRunDir(dir) || existsSync(join(dir, PROGRESS_JSON))
}

/**
 * Where a run stands; undefined when `dir` holds no run. This is the one
 * reading of a run folder behind `status`, `watch` and the dashboard.
 *
 * A run on one machine is read from its progress.json alone: readable from
 * another terminal, another machine (a synced copy) or after the owner died.
 * A run whose file says running but whose heartbeat is older than three beats
 * (or whose owner process on this host is gone) is reported as not running.
 * Without a progress.json, the journal says what it can.
 *
 * A run shared through PostgreSQL is read from its journal as well (see
 * sharedStatus.ts): its committed count, and who still holds the owner lease
 * or a claim. A database that cannot be reached throws StoreUnavailableError.
 */
export async function readRunStatus(dir: string, now: number): Promise<RunStatus | undefined> {
  const written = readProgressFile(dir)
  if (written && !readStoreLink(dir)) return statusOf(written, dir, now)
  return withJournal(dir, undefined, async (store, link) => {
    if (link) return sharedRunStatus(store, link, written, dir, now)
    return statusFromJournal(store, dir)
  })
}

/** The run's event log, oldest first, read through its store; empty when `dir` holds no journal. */
export async function runEvents(dir: string): Promise<RunEvent[]> {
  return withJournal(dir, [], (store) => store.events())
}

/** The last few events other than checkpoints. */
export async function recentEvents(dir: string, limit = 6): Promise<RunEvent[]> {
  return (await runEvents(dir)).filter((e) => e.type !== 'checkpoint').slice(-limit)
}

function readProgressFile(dir: string): ProgressSnapshot | undefined {
  const path = join(dir, PROGRESS_JSON)
  if (!existsSync(path)) return undefined
  return JSON.parse(readFileSync(path, 'utf8')) as ProgressSnapshot
}

/** Runs `read` on the run's journal, opened for it and closed after; `none` when the folder has no journal. */
async function withJournal<T>(dir: string, none: T, read: (store: Store, link: StoreLink | undefined) => Promise<T>): Promise<T> {
  const journal = await openRunJournal(dir, { connectTimeoutMs: CONNECT_TIMEOUT_MS })
  if (!journal) return none
  try {
    return await read(journal.store, journal.link)
  } finally {
    await journal.store.close()
  }
}

/**
 * A run with a journal but no progress.json (it has not written one yet, or
 * it predates progress files): what the journal says, through the store.
 */
async function statusFromJournal(store: Store, dir: string): Promise<RunStatus | undefined> {
  const run = await store.getRun()
  if (!run) return undefined
  const snapshot = snapshotFromJournal(run, await store.committedItems())
  const claimsLive = run.state === 'running'
  const summary = `${run.state.toUpperCase()} (from the journal: this run has no progress.json${claimsLive ? '; if it is not running, run the same command to resume' : ''})`
  return { dir, snapshot, live: false, ownerGone: false, heartbeatAgeSeconds: 0, summary }
}
