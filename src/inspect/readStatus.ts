import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { FileRefusedError, RunDamagedError } from '../errors.ts'
import { readRegularFile } from '../files/regularFile.ts'
import { hasRun, isRunDir } from '../files/runPaths.ts'
import { openRunJournal, readStoreLink, type StoreLink } from '../journal/runJournal.ts'
import type { RunEvent, Store } from '../journal/store.ts'
import { type RunStatus, snapshotFromJournal, statusOf } from '../run/runStatus.ts'
import { PROGRESS_JSON } from '../telemetry/progressFiles.ts'
import type { ProgressSnapshot } from '../telemetry/snapshot.ts'
import { sharedRunStatus } from './sharedStatus.ts'

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
  const read = readProgressFile(dir)
  const written = typeof read === 'string' ? undefined : read
  if (written && !readStoreLink(dir)) {
    if (hasRun(dir)) await assertJournalHoldsRun(dir, written.runId)
    return statusOf(written, dir, now)
  }
  const status = await withJournal(dir, undefined, async (store, link) => {
    if (link) return sharedRunStatus(store, link, written, dir, now)
    return statusFromJournal(store, dir)
  })
  if (typeof read !== 'string') return status
  // A malformed progress.json: the journal says what it can, and the file's fault is named.
  const advice =
    'The run rewrites it every few seconds: if it is running, try again in a moment; otherwise run the same `longhaul run` command, which rewrites it.'
  if (!status) throw new RunDamagedError(dir, read, advice)
  return {
    ...status,
    summary: `${status.summary.split(' (')[0]} (from the journal: ${read})`,
    problem: `${read}; what is shown was read from the journal. ${advice}`,
  }
}

/** The run's event log, oldest first, read through its store; empty when `dir` holds no journal. */
export async function runEvents(dir: string): Promise<RunEvent[]> {
  return withJournal(dir, [], (store) => store.events())
}

/** The last few events other than checkpoints. */
export async function recentEvents(dir: string, limit = 6): Promise<RunEvent[]> {
  return (await runEvents(dir)).filter((e) => e.type !== 'checkpoint').slice(-limit)
}

/** The run's progress.json; undefined when there is none, what is wrong with it (a string) when it cannot be used. */
function readProgressFile(dir: string): ProgressSnapshot | string | undefined {
  const path = join(dir, PROGRESS_JSON)
  if (!existsSync(path)) return undefined
  let parsed: unknown
  try {
    parsed = JSON.parse(readRegularFile(path).toString('utf8'))
  } catch (error) {
    if (error instanceof FileRefusedError) return `its ${PROGRESS_JSON} is ${error.what}, not the file longhaul writes`
    return `its ${PROGRESS_JSON} is malformed (${(error as Error).message})`
  }
  const s = parsed as Partial<ProgressSnapshot> | null
  const usable =
    s !== null &&
    typeof s === 'object' &&
    typeof s.state === 'string' &&
    typeof s.heartbeatAt === 'string' &&
    typeof s.updatedAt === 'string' &&
    typeof s.done === 'number' &&
    (typeof s.total === 'number' || s.total === null) &&
    typeof s.heartbeatSeconds === 'number' &&
    typeof s.owner?.pid === 'number' &&
    typeof s.owner.host === 'string'
  return usable
    ? (parsed as ProgressSnapshot)
    : `its ${PROGRESS_JSON} is malformed (not the progress file longhaul writes: fields are missing)`
}

/** Runs `read` on the run's journal, opened for it and closed after; `none` when the folder has no journal. */
async function withJournal<T>(
  dir: string,
  none: T,
  read: (store: Store, link: StoreLink | undefined) => Promise<T>,
): Promise<T> {
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

/**
 * The journal beside a progress.json holds the run that file reports: one
 * that cannot be opened, or has lost that run (its write-ahead log removed),
 * is damaged, and the progress file's "run the same command" would not hold.
 */
async function assertJournalHoldsRun(dir: string, runId: string): Promise<void> {
  await withJournal(dir, undefined, async (store) => {
    const run = await store.getRun()
    if (run?.runId === runId) return
    throw new RunDamagedError(
      dir,
      `its journal .longhaul/journal.sqlite ${run ? `holds run ${run.runId}` : 'holds no run'}, while progress.json reports run ${runId}: the journal has lost records, most likely its write-ahead log (journal.sqlite-wal) was removed`,
    )
  })
}
