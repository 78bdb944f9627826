import { createHash } from 'node:crypto'
import { createReadStream, mkdirSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { pipeline } from 'node:stream/promises'
import { fsyncDir, TEMP_PREFIX } from '../store/atomicFile.ts'
import type { RangeSummary, Store } from '../store/store.ts'
import type { RunPaths } from './runDir.ts'
import { INDEX_FILE, isShardFileName } from './shardNames.ts'
import type { ShardPlace } from './shardPlace.ts'

/**
 * What a process checks when it starts on a run, after a crash or not: the
 * owner of a single-machine run brings data/ in line with the journal (see
 * reconcileDataDir). The owner of a shared run leaves unrecorded files to
 * the end (another process may be about to commit one), and a worker that
 * joined leaves the shared folder to the owner. With a bucket, the owner
 * clears its local staging folder and checks the bucket; a worker stages in a
 * fresh folder of its own. A shared run's recorded files are checked for
 * size, not re-hashed in the background (see below).
 */
export async function reconcile(
  store: Store,
  paths: RunPaths,
  place: ShardPlace,
  role: { readonly owner: boolean; readonly shared: boolean },
): Promise<{ removed: number; forgotten: number; kept: RangeSummary[] }> {
  if (!role.owner) return { removed: 0, forgotten: 0, kept: [] }
  if (place.kind === 'bucket') {
    // The owner's local folder only ever holds shards waiting for their upload: none of them is recorded.
    const removed = removeDebris(paths, new Map())
    return { ...(await reconcileBucket(store, place)), removed }
  }
  const reconciled = await reconcileDataDir(store, paths, { removeUnrecorded: !role.shared })
  // A shared run's files are not re-hashed in the background: forgetting a range while another process may be
  // finishing the run would race its completion. Sizes are checked here, checksums by verify.
  return role.shared ? { ...reconciled, kept: [] } : reconciled
}

/**
 * Brings data/ back in line with the journal after a crash (invariant
 * atomic-commit): a file the journal does not record (a torn temp file, a
 * shard renamed just before the crash) is deleted; a recorded range with a
 * file missing or of the wrong size is quarantined and forgotten, so its items
 * are made again. Returns the recorded ranges that passed, for `recheck`.
 */
export async function reconcileDataDir(
  store: Store,
  paths: RunPaths,
  options: { readonly removeUnrecorded?: boolean } = {},
): Promise<{ removed: number; forgotten: number; kept: RangeSummary[] }> {
  const recorded = new Map<string, number>()
  const ranges: RangeSummary[] = []
  for await (const range of store.ranges()) {
    ranges.push(range)
    for (const file of range.files) recorded.set(file.name, file.bytes)
  }
  const removed = options.removeUnrecorded === false ? 0 : removeDebris(paths, recorded)
  const kept: RangeSummary[] = []
  let forgotten = 0
  for (const range of ranges) {
    const whole = range.files.every((file) => sizeOf(join(paths.data, file.name)) === file.bytes)
    if (whole) kept.push(range)
    else {
      await forgetRange(store, paths, range)
      forgotten++
    }
  }
  if (removed > 0 || forgotten > 0) fsyncDir(paths.data)
  return { removed, forgotten, kept }
}

/**
 * Deletes longhaul's own debris from data/ (temp files, shards the journal
 * never recorded); anything else is not ours to delete, and verify lists it
 * as stray. Returns how many files went.
 */
function removeDebris(paths: RunPaths, recorded: ReadonlyMap<string, number>): number {
  let removed = 0
  for (const name of readdirSync(paths.data)) {
    if (name === INDEX_FILE || recorded.has(name) || !isDebris(name)) continue
    rmSync(join(paths.data, name), { force: true })
    removed++
  }
  return removed
}

function isDebris(name: string): boolean {
  return name.startsWith(TEMP_PREFIX) || isShardFileName(name)
}

/**
 * A recorded range whose objects are missing or short in the bucket is
 * forgotten, so its items are made again (the bucket's reconcileDataDir).
 */
async function reconcileBucket(store: Store, place: ShardPlace): Promise<{ removed: number; forgotten: number; kept: RangeSummary[] }> {
  // The journal first: a range another process commits during the listing is then not in `ranges`, rather than missing from `present`.
  const ranges: RangeSummary[] = []
  for await (const range of store.ranges()) ranges.push(range)
  const present = await place.list()
  let forgotten = 0
  for (const range of ranges) {
    if (range.files.every((file) => present.get(file.name) === file.bytes)) continue
    await store.uncommitRange(range.start)
    await store.addEvent('recomputing', { start: range.start, end: range.end, reason: `a recorded object is missing or short in ${place.where}` }, Date.now())
    forgotten++
  }
  return { removed: 0, forgotten, kept: [] }
}

/**
 * The debris of a shared run, removed once every item is committed: before
 * that, an unrecorded file may be one another process is about to commit.
 */
export async function removeUnrecordedFiles(store: Store, place: ShardPlace): Promise<number> {
  const recorded = new Set<string>()
  for await (const range of store.ranges()) for (const file of range.files) recorded.add(file.name)
  // Another process that finished at the same moment may be writing index.json: its temp file is not debris.
  const debris = [...(await place.list()).keys()].filter((name) => !recorded.has(name) && isDebris(name) && !name.endsWith(`-${INDEX_FILE}`))
  await place.remove(debris)
  return debris.length
}

/**
 * Re-hashes the files of ranges committed before this session; one whose
 * checksum fails is quarantined and forgotten, never trusted. Runs alongside
 * new work, so a resume does not wait for it. Returns how many were forgotten.
 */
export async function recheckRanges(
  store: Store,
  paths: RunPaths,
  ranges: readonly RangeSummary[],
  stopped: () => boolean,
  onForget: (range: RangeSummary) => void,
): Promise<number> {
  let forgotten = 0
  for (const range of ranges) {
    if (stopped()) break
    for (const file of range.files) {
      if ((await sha256File(join(paths.data, file.name))) !== file.sha256) {
        await forgetRange(store, paths, range)
        onForget(range)
        forgotten++
        break
      }
    }
  }
  return forgotten
}

async function forgetRange(store: Store, paths: RunPaths, range: RangeSummary): Promise<void> {
  mkdirSync(paths.quarantine, { recursive: true })
  const stamp = Date.now()
  for (const file of range.files) {
    try {
      renameSync(join(paths.data, file.name), join(paths.quarantine, `${file.name}.${stamp}`))
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error
    }
  }
  await store.uncommitRange(range.start)
  await store.addEvent('recomputing', { start: range.start, end: range.end, reason: 'a recorded file failed its check' }, Date.now())
}

function sizeOf(path: string): number {
  try {
    return statSync(path).size
  } catch {
    return -1
  }
}

export async function sha256File(path: string): Promise<string | undefined> {
  const hash = createHash('sha256')
  try {
    await pipeline(createReadStream(path), hash)
  } catch {
    return undefined
  }
  return hash.digest('hex')
}
