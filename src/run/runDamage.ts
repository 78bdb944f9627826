/**
 * A run folder's damage, found before anything is read or changed in it:
 * what `run` and `verify` check first, so that a folder longhaul cannot
 * trust gets a RunDamagedError naming what is wrong and what to do, never an
 * internal error, and never a clean-up that deletes what a lost journal no
 * longer records.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { RunDamagedError, RunOwnedError, setAsideAdvice } from '../errors.ts'
import { TEMP_PREFIX } from '../files/atomicFile.ts'
import type { RunPaths } from '../files/runPaths.ts'
import { formatFromDescription } from '../job/outputs/fromDescription.ts'
import { hasShardShape, INDEX_FILE } from '../shards/shardNames.ts'
import { PROGRESS_JSON } from '../telemetry/progressFiles.ts'
import type { ProgressSnapshot } from '../telemetry/snapshot.ts'
import { statusOf } from './runStatus.ts'

/** What a folder path is: a folder, a file (or anything else), or nothing. */
function kindOf(path: string): 'folder' | 'file' | 'none' {
  try {
    const stat = statSync(path, { throwIfNoEntry: false })
    if (!stat) return 'none'
    return stat.isDirectory() ? 'folder' : 'file'
  } catch (error) {
    // A path under a file (ENOTDIR) is no place of a run's; the folder checks say so in their own words.
    if ((error as NodeJS.ErrnoException).code === 'ENOTDIR') return 'none'
    throw error
  }
}

/**
 * The places where longhaul keeps files and folders hold what it expects:
 * .longhaul/quarantine and data/ are folders (when they exist), and nothing
 * in data/ named like longhaul's own files (a shard, a temporary file,
 * index.json) is a folder.
 */
export function assertRunLayout(paths: RunPaths): void {
  const fix = (what: string): string =>
    `Move ${what} elsewhere (it is not longhaul's to delete), then run the command again.`
  if (kindOf(paths.quarantine) === 'file') {
    throw new RunDamagedError(
      paths.dir,
      `.longhaul/quarantine is a file, where longhaul keeps a folder of set-aside shards`,
      fix(paths.quarantine),
    )
  }
  const data = kindOf(paths.data)
  if (data === 'file')
    throw new RunDamagedError(
      paths.dir,
      `data is a file, where longhaul keeps the folder of the run's shards`,
      fix(paths.data),
    )
  if (data === 'none') return
  for (const entry of readdirSync(paths.data, { withFileTypes: true })) {
    if (!entry.isDirectory()) continue
    const name = entry.name
    if (name === INDEX_FILE || name.startsWith(TEMP_PREFIX) || hasShardShape(name)) {
      throw new RunDamagedError(
        paths.dir,
        `data/${name} is a folder, where longhaul keeps a file of its own`,
        fix(join(paths.data, name)),
      )
    }
  }
}

/** A shard's range from its exact name (`000000000000-000000000100.jsonl`), for the format's suffixes. */
function shardRange(name: string, suffixes: readonly string[]): { start: number; end: number } | undefined {
  const match = /^(\d{12})-(\d{12})\.(.+)$/.exec(name)
  if (!match || !suffixes.includes(match[3]!)) return undefined
  return { start: Number(match[1]), end: Number(match[2]) }
}

/**
 * The journal still holds what data/ proves was recorded (a SQLite journal,
 * whose write-ahead log can be lost by hand). Every range is claimed in the
 * journal, the claim raising its frontier, before any shard of it is made:
 * a shard file in data/ named exactly as longhaul names them whose range
 * ends past the frontier (and within the run's total), or any shard when the
 * journal holds no run at all,
 * proves the journal lost records. Cleaning up then would delete the very
 * files that hold them, so this refuses instead.
 *
 * `names` is data/ as listed before the journal was read (a live run may
 * claim more between the two).
 */
export function assertJournalHoldsShards(
  paths: RunPaths,
  names: readonly string[],
  journal: { readonly run: boolean; readonly frontier: number; readonly total?: number },
  suffixes: readonly string[],
): void {
  const beyond = names.filter((name) => {
    if (!journal.run) return hasShardShape(name)
    const range = shardRange(name, suffixes)
    // A range past the run's total was never this run's to hand out: not a lost record (verify lists it as stray).
    return range !== undefined && range.end > journal.frontier && range.end <= (journal.total ?? Infinity)
  })
  if (beyond.length === 0) return
  const what = journal.run
    ? `data/ holds ${beyond.length} shard file(s) (${beyond.slice(0, 3).join(', ')}${beyond.length > 3 ? ', …' : ''}) of items the journal never handed out (it records items up to ${journal.frontier} only)`
    : `data/ holds ${beyond.length} shard file(s) (${beyond.slice(0, 3).join(', ')}${beyond.length > 3 ? ', …' : ''}) but the journal records no run`
  throw new RunDamagedError(
    paths.dir,
    `${what}: the journal .longhaul/journal.sqlite has lost records, most likely its write-ahead log (journal.sqlite-wal) was removed`,
    `The shard files are untouched. If you have the lost file (a backup, a copy), put it back and run the command again. ${setAsideAdvice(paths.dir)}`,
  )
}

/** The names in data/ (none when it does not exist). */
export function dataNames(paths: RunPaths): string[] {
  return kindOf(paths.data) === 'folder' ? readdirSync(paths.data) : []
}

/** The file suffixes of an output format as the journal describes it; none for a format this longhaul does not know. */
export function shardSuffixes(output: unknown): readonly string[] {
  try {
    return formatFromDescription(output).suffixes
  } catch {
    return []
  }
}

/**
 * For a run whose journal is damaged, and so cannot say who owns it: its
 * progress.json names the owner, and one that is alive and keeps its
 * heartbeat still owns the run (invariant one-owner).
 */
export function assertNoLiveOwner(dir: string, now: number): void {
  let written: ProgressSnapshot
  try {
    written = JSON.parse(readFileSync(join(dir, PROGRESS_JSON), 'utf8')) as ProgressSnapshot
  } catch {
    return
  }
  if (typeof written?.owner?.pid !== 'number' || typeof written.heartbeatAt !== 'string') return
  if (!statusOf(written, dir, now).live) return
  const heartbeat = Date.parse(written.heartbeatAt)
  throw new RunOwnedError(dir, {
    pid: written.owner.pid,
    host: written.owner.host,
    since: written.startedAt,
    expiresAt: new Date(heartbeat + Math.max(3 * written.heartbeatSeconds, 30) * 1000).toISOString(),
  })
}
