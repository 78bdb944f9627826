import { createHash } from 'node:crypto'
import { createReadStream, mkdirSync, renameSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { pipeline } from 'node:stream/promises'
import { fsyncDir, isTempNameOf, TEMP_PREFIX } from '../files/atomicFile.ts'
import type { RunPaths } from '../files/runDir.ts'
import type { RangeSummary, ShardFileRecord, Store } from '../journal/store.ts'
import { INDEX_FILE, isShardFileName, parseStagedName, type StagedCopy, stagedByFinalName } from './shardNames.ts'
import { folderPlace, type ShardPlace } from './shardPlace.ts'

/** What names this run's files have: its tag in staged names, and its output format's suffixes. */
export interface RunNaming {
  readonly runTag: string
  readonly suffixes: readonly string[]
}

export interface Reconciled {
  /** Files longhaul provably wrote and nothing records (staged files of lost claims, torn temp files), removed. */
  readonly removed: number
  /** Recorded files whose rename to the final name a crash interrupted, finished. */
  readonly finished: number
  /** Recorded ranges with a file missing or short, forgotten (their items are made again). */
  readonly forgotten: number
  /** The recorded ranges that passed, for `recheckRanges`. */
  readonly kept: RangeSummary[]
  /** Files in data/ that longhaul cannot prove it wrote: never removed, reported. */
  readonly foreign: string[]
}

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
  naming: RunNaming,
): Promise<Reconciled> {
  const none: Reconciled = { removed: 0, finished: 0, forgotten: 0, kept: [], foreign: [] }
  if (!role.owner) return none
  if (place.kind === 'bucket') {
    // The owner's local folder only ever holds shards waiting for their upload: none of them is recorded.
    const { removed, foreign } = await tidy(store, folderPlace(paths.data), naming, {
      removeUnrecorded: true,
      finish: false,
    })
    return { ...none, ...(await reconcileBucket(store, place, naming)), removed, foreign }
  }
  const reconciled = await reconcileDataDir(store, paths, naming, { removeUnrecorded: !role.shared })
  // A shared run's files are not re-hashed in the background: forgetting a range while another process may be
  // finishing the run would race its completion. Sizes are checked here, checksums by verify.
  return role.shared ? { ...reconciled, kept: [] } : reconciled
}

/**
 * Brings data/ back in line with the journal after a crash (invariants
 * atomic-commit, never-delete-foreign-files): a recorded file whose rename
 * from its staged name a crash cut short is renamed (its bytes must match the
 * journal's checksum); a staged or temp file of this run that nothing records
 * is deleted; a recorded range with a file missing or of the wrong size is
 * quarantined and forgotten, so its items are made again. Anything else is
 * left where it is and returned as `foreign`.
 */
export async function reconcileDataDir(
  store: Store,
  paths: RunPaths,
  naming: RunNaming,
  options: { readonly removeUnrecorded?: boolean } = {},
): Promise<Reconciled> {
  const ranges: RangeSummary[] = []
  for await (const range of store.ranges()) ranges.push(range)
  const { removed, finished, foreign } = await tidy(
    store,
    folderPlace(paths.data),
    naming,
    { removeUnrecorded: options.removeUnrecorded !== false },
    ranges,
  )
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
  return { removed, finished, forgotten, kept, foreign }
}

/**
 * Sorts every file of `place` by what the journal says of it. Recorded: kept.
 * A staged file of this run (`.claim-<tag>-<token>-<final name>`) whose range
 * is recorded but whose final name is missing: finished (renamed) when its
 * bytes match the journal's checksum. Any other staged file of this run, and
 * a temp file of longhaul's exact form (`.tmp-<12 hex>-<a shard name or
 * index.json>`): removed, when `removeUnrecorded`. Everything else, even a
 * name that merely looks like a shard: left, and returned as `foreign`.
 */
async function tidy(
  store: Store,
  place: ShardPlace,
  naming: RunNaming,
  options: { readonly removeUnrecorded: boolean; readonly keepIndexTemps?: boolean; readonly finish?: boolean },
  ranges?: readonly RangeSummary[],
): Promise<{ removed: number; finished: number; foreign: string[] }> {
  const recorded = new Map<string, ShardFileRecord>()
  if (ranges) for (const range of ranges) for (const file of range.files) recorded.set(file.name, file)
  else for await (const range of store.ranges()) for (const file of range.files) recorded.set(file.name, file)
  const listing = await place.list()
  const debris: string[] = []
  const foreign: string[] = []
  let finished = 0
  for (const [name, bytes] of listing) {
    if (name === INDEX_FILE || recorded.has(name)) continue
    const staged = parseStagedName(name, naming.runTag, naming.suffixes)
    if (staged) {
      const record = recorded.get(staged.finalName)
      if (record && !listing.has(staged.finalName) && bytes === record.bytes && options.finish !== false) {
        const file = { name: record.name, bytes: record.bytes, sha256: record.sha256, staged: name }
        if ((await sha256Of(place, name)) === record.sha256) {
          await place.finalize([file])
          listing.set(record.name, record.bytes)
          finished++
          continue
        }
      }
      // A copy of a recorded file already in place, one that fails its checksum, or one nothing records.
      if (record || options.removeUnrecorded) debris.push(name)
      continue
    }
    if (isOwnTempName(name, naming.suffixes)) {
      if (options.removeUnrecorded && !(options.keepIndexTemps && isTempNameOf(name, INDEX_FILE))) debris.push(name)
      continue
    }
    foreign.push(name)
  }
  await place.remove(debris)
  return { removed: debris.length, finished, foreign: foreign.sort() }
}

/** A temp file of writeFileAtomic's exact form for index.json or a shard name of this run's format (as earlier versions wrote shards). */
function isOwnTempName(name: string, suffixes: readonly string[]): boolean {
  if (!name.startsWith(TEMP_PREFIX)) return false
  const target = name.slice(TEMP_PREFIX.length + 13)
  return isTempNameOf(name, target) && (target === INDEX_FILE || isShardFileName(target, suffixes))
}

async function sha256Of(place: ShardPlace, name: string): Promise<string | undefined> {
  const bytes = await place.read(name)
  return bytes && createHash('sha256').update(bytes).digest('hex')
}

/**
 * A recorded range whose objects are missing or short in the bucket is
 * forgotten, so its items are made again (the bucket's reconcileDataDir),
 * unless the process that recorded it died before copying its staged objects
 * to their final keys: then the copy is finished (sizes and checksums must
 * match the journal's).
 */
async function reconcileBucket(
  store: Store,
  place: ShardPlace,
  naming: RunNaming,
): Promise<{ removed: number; finished: number; forgotten: number; kept: RangeSummary[] }> {
  // The journal first: a range another process commits during the listing is then not in `ranges`, rather than missing from `present`.
  const ranges: RangeSummary[] = []
  for await (const range of store.ranges()) ranges.push(range)
  const present = await place.list()
  const staged = await stagedOf(place, naming)
  let forgotten = 0
  let finished = 0
  for (const range of ranges) {
    let whole = true
    for (const file of range.files) {
      if (present.get(file.name) === file.bytes) continue
      if (whole && (await finishStaged(place, staged, file))) finished++
      else whole = false
    }
    if (whole) continue
    await store.uncommitRange(range.start)
    await store.addEvent(
      'recomputing',
      { start: range.start, end: range.end, reason: `a recorded object is missing or short in ${place.where}` },
      Date.now(),
    )
    forgotten++
  }
  return { removed: 0, finished, forgotten, kept: [] }
}

/** This run's staged objects of a bucket, by the final name each stands for. */
async function stagedOf(place: ShardPlace, naming: RunNaming): Promise<Map<string, StagedCopy[]>> {
  return stagedByFinalName((await place.staging?.list()) ?? new Map(), naming.runTag, naming.suffixes)
}

/** Finishes a recorded file from a staged copy whose bytes match the journal's; false when there is none. */
async function finishStaged(
  place: ShardPlace,
  staged: ReadonlyMap<string, readonly StagedCopy[]>,
  file: ShardFileRecord,
): Promise<boolean> {
  for (const copy of staged.get(file.name) ?? []) {
    if (copy.bytes !== file.bytes) continue
    const bytes = await place.staging!.read(copy.staged)
    if (bytes && createHash('sha256').update(bytes).digest('hex') === file.sha256) {
      await place.staging!.finish(copy.staged, file.name)
      return true
    }
  }
  return false
}

/**
 * The debris of a shared run, removed once every item is committed: before
 * that, an unrecorded file may be one another process is about to commit.
 * A recorded file whose process died between its commit and its rename is
 * finished here. Returns how many files went, and the names left as foreign.
 */
export async function removeUnrecordedFiles(
  store: Store,
  place: ShardPlace,
  naming: RunNaming,
): Promise<{ removed: number; foreign: string[] }> {
  if (place.kind === 'bucket') return removeUnrecordedObjects(store, place, naming)
  // Another process that finished at the same moment may be writing index.json: its temp file is not debris.
  const { removed, foreign } = await tidy(store, place, naming, { removeUnrecorded: true, keepIndexTemps: true })
  return { removed, foreign }
}

/**
 * A bucket once every item is committed: a staged object of this run whose
 * range is recorded but whose final object is missing is finished (a process
 * died between its record and its copy); every other staged object of this
 * run is removed. Under data/, nothing is removed: the protocol only ever
 * puts recorded objects there, so an object the journal does not record is
 * not longhaul's (returned as foreign).
 */
async function removeUnrecordedObjects(
  store: Store,
  place: ShardPlace,
  naming: RunNaming,
): Promise<{ removed: number; foreign: string[] }> {
  const recorded = new Map<string, ShardFileRecord>()
  for await (const range of store.ranges()) for (const file of range.files) recorded.set(file.name, file)
  const present = await place.list()
  const staged = await stagedOf(place, naming)
  const debris: string[] = []
  for (const [finalName, copies] of staged) {
    const record = recorded.get(finalName)
    if (record && present.get(finalName) !== record.bytes) await finishStaged(place, staged, record)
    debris.push(...copies.map((copy) => copy.staged))
  }
  // A copy finished just now is already gone: removing a missing key is harmless.
  await place.staging?.remove(debris)
  const foreign = [...present.keys()].filter((name) => name !== INDEX_FILE && !recorded.has(name)).sort()
  return { removed: debris.length, foreign }
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
  await store.addEvent(
    'recomputing',
    { start: range.start, end: range.end, reason: 'a recorded file failed its check' },
    Date.now(),
  )
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
