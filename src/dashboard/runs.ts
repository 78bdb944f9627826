import { existsSync, readdirSync } from 'node:fs'
import { join, relative, resolve } from 'node:path'
import { assertInside, readRegularFile } from '../files/regularFile.ts'
import { runPaths } from '../files/runPaths.ts'
import { holdsRun, readRunStatus, runEvents } from '../inspect/readStatus.ts'
import type { RunEvent } from '../journal/store.ts'
import type { RunStatus, SharedRunFacts } from '../run/runStatus.ts'
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

/** A run's page: the list item plus its history, commits, proofs and preflight report. */
export interface RunDetail extends RunItem {
  readonly events: readonly RunEvent[]
  readonly checkpoints: readonly { at: number; start: number; end: number }[]
  readonly proofs: readonly ProofSummary[]
  readonly report: string | null
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

export async function runItem(root: string, dir: string, now: number): Promise<RunItem | undefined> {
  assertRunInside(root, dir)
  const status: RunStatus | undefined = await readRunStatus(dir, now)
  if (!status || !RUN_ID.test(status.snapshot.runId)) return undefined
  const { live, ownerGone, heartbeatAgeSeconds, summary, snapshot, shared } = status
  return {
    id: snapshot.runId,
    dir: relative(resolve(root), dir) || '.',
    live,
    ownerGone,
    heartbeatAgeSeconds,
    summary,
    snapshot,
    ...(shared && { shared }),
  }
}

export async function runDetail(root: string, item: RunItem): Promise<RunDetail> {
  const paths = runPaths(join(resolve(root), item.dir))
  const events = await runEvents(paths.dir)
  const checkpoints = events
    .filter((e) => e.type === 'checkpoint')
    .slice(-MAX_CHECKPOINTS)
    .map((e) => ({ at: e.at, start: Number(e.detail.start), end: Number(e.detail.end) }))
  return {
    ...item,
    events: events.filter((e) => e.type !== 'checkpoint').slice(-MAX_EVENTS),
    checkpoints,
    proofs: readProofs(paths.proofs, item.snapshot.job),
    report: readOptional(join(paths.proofs, 'PREFLIGHT.md')),
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
