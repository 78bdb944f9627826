import { createHash } from 'node:crypto'
import { existsSync, readdirSync, statSync } from 'node:fs'
import { basename, isAbsolute, join, relative, resolve } from 'node:path'
import type { Context } from 'hono'
import { FileRefusedError } from '../errors.ts'
import { assertInside, readRegularFile } from '../files/regularFile.ts'
import { runPaths } from '../files/runPaths.ts'
import { holdsRun, readRunStatus, runEvents } from '../inspect/readStatus.ts'
import type { RunEvent } from '../journal/store.ts'
import { type RunStatus, type SharedRunFacts, unmeasuredSnapshot } from '../run/runStatus.ts'
import { PROGRESS_JSON } from '../telemetry/progressFiles.ts'
import type { ProgressSnapshot } from '../telemetry/snapshot.ts'

/** Run ids are the runs' UUIDs; anything else in a URL is refused before it touches the disk. */
export const RUN_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/

/** How deep under the root run folders are looked for (runs/<name>, team/runs/<name>, …). */
const MAX_DEPTH = 3
const SKIP = new Set(['node_modules', '.git', 'data', '.longhaul', 'proofs'])

/** One run as the dashboard lists it. */
export interface RunItem {
  readonly id: string
  /** The run folder, relative to the served root. */
  readonly dir: string
  readonly live: boolean
  readonly ownerGone: boolean
  readonly heartbeatAgeSeconds: number
  readonly summary: string
  readonly snapshot: ProgressSnapshot
  /** A run whose journal is in PostgreSQL: whether its owner is alive, and which other processes still work on it. */
  readonly shared?: SharedRunFacts
  /** What in the run folder could not be read, and what to do; the rest of the item is what could be read. */
  readonly problem?: string
  /** Nothing in the folder could be read: `id` is empty and `snapshot` a stand-in named after the folder. */
  readonly unreadable?: true
  /** Another folder under the root holds the same run (a copy of it): the folder this one copies. */
  readonly copyOf?: string
  /** The folders under the root that hold a copy of this run. */
  readonly copies?: readonly string[]
}

export interface ProofSummary {
  readonly file: string
  readonly verdict: string
  readonly target: number
  readonly expiresAt: string
  readonly checks: readonly {
    id: string
    title: string
    passed: boolean
    evidence: string
    failures: readonly string[]
  }[]
}

/**
 * A run's page: the list item plus its history, commits, proofs and preflight report. Asked with `since` (the
 * `eventCount` of an earlier answer), `events` and `checkpoints` are only those logged after it, and `proofs` and
 * `report` are left out while they are those of `proofsTag` (the page has them).
 */
export interface RunDetail extends RunItem {
  readonly events: readonly RunEvent[]
  readonly checkpoints: readonly { at: number; start: number; end: number }[]
  readonly proofs?: readonly ProofSummary[]
  readonly report?: string | null
  /** How many events (checkpoints included) the run's log holds: the `since` of the next question. */
  readonly eventCount: number
  /** Names the proofs and report as they are now. */
  readonly proofsTag: string
  /** Set when this answer holds only what came after the page's `since`. */
  readonly since?: number
}

/** What a page already has of a run's history (see RunDetail). */
export interface HistoryHeld {
  readonly since?: number
  readonly proofsTag?: string
}

/** Events and commits kept on a run's page (the newest). */
const MAX_EVENTS = 200
const MAX_CHECKPOINTS = 2_000

/** Every run folder under `root` (a folder with a journal, a link to one, or a progress.json), found afresh on each call (rootIndex.ts calls it on a timer). */
export function findRunDirs(root: string): string[] {
  const found: string[] = []
  const visit = (dir: string, depth: number): void => {
    if (holdsRun(dir)) {
      found.push(dir)
      return
    }
    if (depth >= MAX_DEPTH) return
    let names: string[]
    try {
      names = readdirSync(dir, { withFileTypes: true })
        .filter((d) => d.isDirectory() && !SKIP.has(d.name))
        .map((d) => d.name)
    } catch {
      return
    }
    for (const name of names.sort()) visit(join(dir, name), depth + 1)
  }
  visit(resolve(root), 0)
  return found
}

/**
 * The answer for a run that is not (or no longer) under the root: 410 when
 * the page names the folder it followed (?dir=) and that folder no longer
 * holds the run, so the page can say the run is gone; 404 otherwise.
 */
export function noSuchRun(c: Context, root: string): Response {
  const dir = c.req.query('dir')
  if (dir === undefined || !isRelativeInside(dir) || !RUN_ID.test(c.req.param('id') ?? ''))
    return c.json({ error: 'no such run' }, 404)
  return c.json({ error: goneBecause(root, dir), gone: true }, 410)
}

/** Why the run that was in `dir` is no longer there, in words. */
export function goneBecause(root: string, dir: string): string {
  return holdsRun(join(resolve(root), dir))
    ? `the run is gone: its folder ${dir} now holds another run`
    : `the run is gone: its folder ${dir} no longer exists (deleted or moved)`
}

/** A folder name relative to the root that stays inside it (no `..`, not absolute). */
function isRelativeInside(dir: string): boolean {
  return dir !== '' && !isAbsolute(dir) && !dir.split(/[\\/]/).includes('..')
}

/**
 * The run in `dir`, as the dashboard lists it; undefined when the folder
 * holds no run. Throws FileRefusedError for a folder whose files link outside
 * the root (never read); any other failure to read it is the item's `problem`.
 */
export async function runItem(root: string, dir: string, now: number): Promise<RunItem | undefined> {
  assertRunInside(root, dir)
  const where = relative(resolve(root), dir) || '.'
  let status: RunStatus | undefined
  try {
    status = await readRunStatus(dir, now)
  } catch (error) {
    if (error instanceof FileRefusedError) throw error
    return unreadableRun(where, (error as Error).message.replaceAll(dir, where), now)
  }
  if (!status) return undefined
  if (!RUN_ID.test(status.snapshot.runId))
    return unreadableRun(
      where,
      `its ${PROGRESS_JSON} names the run ${JSON.stringify(status.snapshot.runId).slice(0, 80)}, not a run id longhaul writes: it was not written by longhaul. Remove it, or run the job again in another folder.`,
      now,
    )
  const { live, ownerGone, heartbeatAgeSeconds, summary, snapshot, shared, problem } = status
  return {
    id: snapshot.runId,
    dir: where,
    live,
    ownerGone,
    heartbeatAgeSeconds,
    summary,
    snapshot,
    ...(shared && { shared }),
    ...(problem && { problem: problem.replaceAll(dir, where) }),
  }
}

/** A run folder none of whose files could be read: listed under its folder's name, with what is wrong. */
function unreadableRun(dir: string, problem: string, now: number): RunItem {
  const at = new Date(now).toISOString()
  return {
    id: '',
    dir,
    live: false,
    ownerGone: false,
    heartbeatAgeSeconds: 0,
    summary: `UNREADABLE — ${problem}`,
    problem,
    unreadable: true,
    snapshot: unmeasuredSnapshot({
      job: basename(dir),
      runId: '',
      state: 'interrupted',
      done: 0,
      total: null,
      startedAt: at,
      at,
      because: 'the run cannot be read',
    }),
  }
}

/**
 * Folders holding the same run (one copied with cp -r, a synced backup):
 * each stays listed under its own folder; one is taken as the run itself and
 * the others are marked as its copies. The run itself is the live one, else
 * the one whose heartbeat is newest (it moved on after the copy was taken),
 * else the folder made first.
 */
export function markCopies(root: string, items: readonly RunItem[]): RunItem[] {
  const byId = new Map<string, RunItem[]>()
  for (const item of items) if (!item.unreadable) byId.set(item.id, [...(byId.get(item.id) ?? []), item])
  const marked = new Map<RunItem, RunItem>()
  for (const same of byId.values()) {
    if (same.length < 2) continue
    const made = (item: RunItem) => madeAt(join(resolve(root), item.dir))
    const [original, ...copies] = [...same].sort(
      (a, b) =>
        Number(b.live) - Number(a.live) ||
        b.snapshot.heartbeatAt.localeCompare(a.snapshot.heartbeatAt) ||
        made(a) - made(b) ||
        a.dir.localeCompare(b.dir),
    )
    marked.set(original!, { ...original!, copies: copies.map((copy) => copy.dir) })
    for (const copy of copies) marked.set(copy, { ...copy, copyOf: original!.dir })
  }
  return items.map((item) => marked.get(item) ?? item)
}

/** When a folder was made (its birth time where the file system keeps one, else its last status change). */
function madeAt(dir: string): number {
  try {
    const stat = statSync(dir)
    return stat.birthtimeMs > 0 ? stat.birthtimeMs : stat.ctimeMs
  } catch {
    return Number.POSITIVE_INFINITY
  }
}

/**
 * A run's page data. With `held.since`, only the events logged after the first `since` (the log only grows): an
 * open page of a live run is sent its new commits, not its whole history again; a `since` past the log's end (not
 * this log) is answered in full.
 */
export async function runDetail(root: string, item: RunItem, held: HistoryHeld = {}): Promise<RunDetail> {
  const paths = runPaths(join(resolve(root), item.dir))
  const all = item.unreadable ? [] : await runEvents(paths.dir)
  const since = held.since !== undefined && held.since >= 0 && held.since <= all.length ? held.since : undefined
  const events = since === undefined ? all : all.slice(since)
  const checkpoints = checkpointsOf(all, since ?? 0)
  const proofs = readProofs(paths.proofs, item.snapshot.job)
  const report = readOptional(join(paths.proofs, 'PREFLIGHT.md'))
  const proofsTag = createHash('sha256')
    .update(JSON.stringify([proofs, report]))
    .digest('base64url')
    .slice(0, 16)
  return {
    ...item,
    events: events.filter((e) => e.type !== 'checkpoint' && e.type !== 'progress').slice(-MAX_EVENTS),
    checkpoints,
    eventCount: all.length,
    proofsTag,
    ...(since !== undefined && { since }),
    ...(since === undefined || held.proofsTag !== proofsTag ? { proofs, report } : {}),
  }
}

/**
 * Every file and folder of a run the dashboard reads resolves inside the root
 * it serves: a link in a run folder to a file elsewhere (a secret, another
 * user's run) is never followed.
 */
function assertRunInside(root: string, dir: string): void {
  const paths = runPaths(dir)
  for (const path of [
    paths.dir,
    paths.internal,
    paths.journal,
    `${paths.journal}-wal`,
    `${paths.journal}-shm`,
    paths.storeLink,
    join(paths.dir, PROGRESS_JSON),
    paths.proofs,
  ])
    assertInside(root, path)
}

/** The proof statements in a run's proofs/ folder for its job, newest first, reduced to what the page shows. */
function readProofs(dir: string, job: string): ProofSummary[] {
  if (!existsSync(dir)) return []
  const proofs: (ProofSummary & { finishedAt: string })[] = []
  for (const file of readdirSync(dir)) {
    if (!file.startsWith(`${job}-`) || !file.endsWith('.intoto.jsonl')) continue
    try {
      const p = (
        JSON.parse(readRegularFile(join(dir, file)).toString('utf8').split('\n')[0]!) as {
          predicate: Record<string, unknown>
        }
      ).predicate
      const checks = (p.checks as ProofSummary['checks']).map(({ id, title, passed, evidence, failures }) => ({
        id,
        title,
        passed,
        evidence,
        failures,
      }))
      proofs.push({
        file,
        verdict: String(p.verdict),
        target: Number(p.target),
        expiresAt: String(p.expiresAt),
        finishedAt: String(p.finishedAt),
        checks,
      })
    } catch {
      // A proof that cannot be read is not shown; `run` would refuse it too.
    }
  }
  return proofs.sort((a, b) => b.finishedAt.localeCompare(a.finishedAt)).map(({ finishedAt: _, ...proof }) => proof)
}

function readOptional(path: string): string | null {
  try {
    return readRegularFile(path).toString('utf8')
  } catch {
    return null
  }
}

/**
 * The commits of the events from `from` on, newest MAX_CHECKPOINTS: a map job's `checkpoint` names the range of items it
 * committed; a loop's or a supervised program's names the step it was taken at, and stands for the steps since the
 * checkpoint before it (found in the whole log, so that an answer from `since` on reads them as a fresh one would).
 */
export function checkpointsOf(all: readonly RunEvent[], from: number): { at: number; start: number; end: number }[] {
  const found: { at: number; start: number; end: number }[] = []
  let step = 0
  for (const [i, e] of all.entries()) {
    if (e.type !== 'checkpoint') continue
    const { start, end } = e.detail
    let range: { start: number; end: number } | undefined
    if (typeof start === 'number' && typeof end === 'number') range = { start, end }
    else if (typeof e.detail.step === 'number' && e.detail.step >= step) {
      range = { start: step, end: e.detail.step }
      step = e.detail.step
    }
    if (range && i >= from) found.push({ at: e.at, ...range })
  }
  return found.slice(-MAX_CHECKPOINTS)
}
