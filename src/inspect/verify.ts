import { createHash } from 'node:crypto'
import { existsSync } from 'node:fs'
import { availableParallelism, tmpdir } from 'node:os'
import { RunDamagedError, setAsideAdvice, UsageError } from '../errors.ts'
import { TEMP_PREFIX } from '../files/atomicFile.ts'
import type { JobIdentity } from '../job/fingerprint.ts'
import { ITEM_HASH_BYTES } from '../job/outputs/format.ts'
import { formatFromDescription } from '../job/outputs/fromDescription.ts'
import { isJournalFile, openStore } from '../journal/openStore.ts'
import { openRunJournal } from '../journal/runJournal.ts'
import type { CommittedRange, Store } from '../journal/store.ts'
import { processAliveHere } from '../run/runStatus.ts'
import { openBucketPlace } from '../shards/bucket.ts'
import { type RangeHasher, type RangeHashes, rangeHasher } from './rangeHashes.ts'
import { verifyLoopRun } from './verifyLoop.ts'
import type { VerifyReport } from './verifyReport.ts'

export type { VerifyReport } from './verifyReport.ts'

import { type RunPaths, runPaths } from '../files/runDir.ts'
import { assertJournalHoldsShards, assertRunLayout, dataNames } from '../run/runDamage.ts'
import { readerIndexOf, readerIndexProblem } from '../shards/readerIndex.ts'
import { INDEX_FILE, isShardFileName, runTagOf, STAGED_PREFIX, stagedByFinalName } from '../shards/shardNames.ts'
import { folderPlace, type ShardPlace } from '../shards/shardPlace.ts'

const MAX_PROBLEMS = 20
/** Ranges read and being hashed ahead of the one checked: enough to keep every thread busy while files are read. */
const AHEAD = 2 * availableParallelism()
/** …and at most this many bytes of their files (beyond one range), so memory stays bounded whatever a shard's size. */
const AHEAD_BYTES = 256 * 1024 * 1024

/**
 * Proves an output complete, duplicate-free and uncorrupted from its files:
 * every recorded file is re-hashed, every item's hash is recomputed from the
 * bytes, the ranges must tile 0 … total-1 exactly once.
 */
export async function verifyRun(dir: string | undefined, options: VerifyTarget = {}): Promise<VerifyReport> {
  const opened = await openJournal(dir, options)
  const { store, shards } = opened
  let place: ShardPlace | undefined
  let hasher: RangeHasher | undefined
  try {
    const run = await store.getRun()
    if (!run) {
      if (dir !== undefined && shards === undefined && isJournalFile(store))
        assertJournalHoldsShards(runPaths(dir), dataNames(runPaths(dir)), { run: false, frontier: 0 }, [])
      throw new UsageError(`${dir} has a journal but no run in it; start the run again.`)
    }
    if (dir === undefined && shards === undefined) {
      throw new UsageError(
        `run '${run.runId}' keeps its shards in a shared folder, not a bucket: give that folder, as in  longhaul verify DIR`,
      )
    }
    const paths = runPaths(dir ?? '.')
    const identity = JSON.parse(run.identity) as JobIdentity
    const { kind } = run
    if (kind === 'exec') {
      throw new UsageError(
        `${dir} holds a supervised program's run (longhaul exec): longhaul does not manage the program's output, so there is nothing to verify. \`longhaul status ${dir}\` shows how it ended.`,
      )
    }
    const live = await liveOwner(store, shards !== undefined || opened.link !== undefined)
    if (shards === undefined) assertFolderIntact(paths)
    if (kind === 'loop') return await verifyLoopRun(run, paths)
    const format = formatFromDescription(identity.output)
    if (shards === undefined && !live && isJournalFile(store)) {
      // Listed first: a shard in data/ was claimed in the journal before it was made.
      const names = dataNames(paths)
      assertJournalHoldsShards(
        paths,
        names,
        { run: true, frontier: await store.frontier(), total: run.total },
        format.suffixes,
      )
    }
    // verify only reads: the bucket's staging folder (for uploads) is never written.
    place = shards ? await openBucketPlace(shards, tmpdir()) : folderPlace(paths.data)
    const problems: string[] = []
    const problem = (text: string): void => {
      if (problems.length < MAX_PROBLEMS) problems.push(text)
    }
    const digest = createHash('sha256')
    const recorded = new Set<string>()
    let next = 0
    let items = 0
    let missing = 0
    let duplicates = 0
    let corrupt = 0
    const check = (range: CommittedRange, hashes: RangeHashes): void => {
      const count = range.end - range.start
      if (range.start > next) {
        missing += range.start - next
        if (!live) problem(`items ${next}–${range.start - 1} are missing`)
      }
      const overlap = Math.max(0, Math.min(range.end, next) - range.start)
      if (overlap > 0) {
        duplicates += overlap
        problem(`items ${range.start}–${range.start + overlap - 1} are recorded twice`)
      }
      if (typeof hashes === 'string' || !range.itemHashes.equals(hashes)) {
        corrupt += count
        problem(
          `items ${range.start}–${range.end - 1}: ${typeof hashes === 'string' ? hashes : 'item bytes differ from the journal'}`,
        )
      } else {
        items += count - overlap
        digest.update(hashes.subarray(overlap * ITEM_HASH_BYTES))
      }
      next = Math.max(next, range.end)
    }
    // Ranges are hashed ahead (in threads, for a large run) and checked in index order as they come back.
    hasher = await rangeHasher(run.total, options.threadsAboveItems)
    const ahead: { range: CommittedRange; bytes: number; hashes: Promise<RangeHashes> }[] = []
    let aheadBytes = 0
    const staged = await stagedCopies(place, runTagOf(run.runId), format.suffixes)
    /** Recorded files read from the staged copy a crash left in place of them: final name → staged name. */
    const unfinished = new Map<string, string>()
    for await (const range of store.rangesWithHashes()) {
      for (const file of range.files) recorded.add(file.name)
      const files = await Promise.all(
        range.files.map(async (file) => {
          let bytes = await place!.read(file.name)
          if (bytes === undefined) {
            const copy = await staged.read(file.name, file.bytes)
            if (copy) {
              bytes = copy.bytes
              unfinished.set(file.name, copy.name)
            }
          }
          return { name: file.name, sha256: file.sha256, bytes }
        }),
      )
      const bytes = files.reduce((sum, file) => sum + (file.bytes?.length ?? 0), 0)
      ahead.push({
        range,
        bytes,
        hashes: hasher.hash({ output: identity.output, files, count: range.end - range.start }),
      })
      aheadBytes += bytes
      while (ahead.length > AHEAD || (ahead.length > 1 && aheadBytes > AHEAD_BYTES)) {
        const first = ahead.shift()!
        aheadBytes -= first.bytes
        check(first.range, await first.hashes)
      }
    }
    for (const pending of ahead) check(pending.range, await pending.hashes)
    if (next < run.total) {
      missing += run.total - next
      if (!live) problem(`items ${next}–${run.total - 1} are missing`)
    }
    // A crash between the journal's record of a range and the rename of its files leaves them under their staged
    // names, whole: the next run of the job gives them their names. Their items are intact, and not yet where readers look.
    const finishing = new Set(unfinished.values())
    if (!live)
      for (const [name, copy] of [...unfinished].slice(0, 5))
        problem(
          `data/${name} is recorded and whole, but still named ${copy}: a crash cut its rename short; the next \`longhaul run\` of the job finishes it`,
        )
    // While the run lives, its temporary files and the shards it is about to record are in flight, not stray.
    const stray = [...(await place.list()).keys()].filter(
      (name) =>
        name !== INDEX_FILE &&
        !recorded.has(name) &&
        !finishing.has(name) &&
        !(live && isInFlightName(name, format.suffixes)),
    )
    for (const name of stray.slice(0, 5)) problem(`data/${name} is not recorded in the journal`)
    // Readers without longhaul go through data/index.json: it must say exactly what the journal does (written at the end of a session).
    const readerIndex = live
      ? undefined
      : await readerIndexProblem(place, await readerIndexOf(store, (identity.output as { kind: string }).kind))
    if (readerIndex) problem(readerIndex)
    const complete =
      !live &&
      missing === 0 &&
      duplicates === 0 &&
      corrupt === 0 &&
      stray.length === 0 &&
      unfinished.size === 0 &&
      items === run.total &&
      readerIndex === undefined
    return {
      dir: place.where,
      job: run.job,
      complete,
      total: run.total,
      items,
      missing,
      duplicates,
      corrupt,
      stray,
      ...(unfinished.size > 0 && { unfinished: [...unfinished.keys()] }),
      digest: complete ? digest.digest('hex') : null,
      problems,
      ...(live && { live }),
      ...(readerIndex && { readerIndex }),
    }
  } finally {
    await hasher?.close()
    await store.close()
    place?.close()
  }
}

export interface VerifyTarget {
  /** The PostgreSQL database of a run started with --store. @default the one the folder records */
  readonly store?: string
  /** With `store`: the run to verify, for a run whose shards are in a bucket (no folder needed). */
  readonly runId?: string
  /** Items hashed in worker threads from a run of more than this many items. @default THREADS_ABOVE_ITEMS */
  readonly threadsAboveItems?: number
}

/**
 * The run's journal (SQLite in the folder, the PostgreSQL run the folder
 * records — `store` overrides its database URL —, or the run `runId` of
 * `store`) and its bucket, if its shards are in one.
 */
async function openJournal(
  dir: string | undefined,
  { store: storeUrl, runId }: VerifyTarget,
): Promise<{ store: Store; shards: string | undefined; link?: unknown }> {
  if (runId !== undefined) {
    if (storeUrl === undefined)
      throw new UsageError('--run names a run of a PostgreSQL journal: give its --store URL too')
    const store = await openStore({ url: storeUrl, runId })
    return {
      store,
      shards: await store.getRun().then(
        (run) => run?.shardsAt ?? undefined,
        async (error: unknown) => {
          await store.close()
          throw error
        },
      ),
    }
  }
  if (dir === undefined)
    throw new UsageError(
      'give the run folder (the --out of `longhaul run`), or --store URL --run ID for a run whose shards are in a bucket',
    )
  const opened = await openRunJournal(dir, storeUrl === undefined ? {} : { storeUrl })
  if (!opened)
    throw new UsageError(
      `${dir} holds no longhaul run (no .longhaul/journal.sqlite nor .longhaul/store.json). Give the --out folder of a run.`,
    )
  return { store: opened.store, shards: opened.link?.shards, link: opened.link }
}

/**
 * The process that owns the run, while it lives: its lease has not expired
 * and (on this host) its process exists; for a shared run, also any worker
 * that holds a live claim.
 */
async function liveOwner(store: Store, shared: boolean): Promise<VerifyReport['live']> {
  const now = Date.now()
  const owner = await store.getOwner()
  if (owner && owner.expiresAt > now && processAliveHere(owner.host, owner.pid)) {
    return { pid: owner.pid, host: owner.host, since: new Date(owner.since).toISOString() }
  }
  if (shared && (await store.claimHolders(now)).length > 0)
    return { pid: owner?.pid ?? 0, host: owner?.host ?? '?', since: new Date(owner?.since ?? now).toISOString() }
  return undefined
}

/** A single-machine run's folder holds what its journal needs: data/ (made before the journal), nothing of longhaul's replaced by a folder. */
function assertFolderIntact(paths: RunPaths): void {
  assertRunLayout(paths)
  if (!existsSync(paths.data)) {
    throw new RunDamagedError(
      paths.dir,
      `its data/ folder, where the journal records the run's shards, is missing`,
      `If it was moved, put it back as ${paths.data}. Otherwise run the same \`longhaul run\` command: it sets aside the journal's records of the files that are gone and makes their items again. ${setAsideAdvice(paths.dir)}`,
    )
  }
}

/** longhaul's own files of a range in flight: temporary and staged files, and shards renamed since the journal was read. */
function isInFlightName(name: string, suffixes: readonly string[]): boolean {
  return name.startsWith(TEMP_PREFIX) || name.startsWith(STAGED_PREFIX) || isShardFileName(name, suffixes)
}

/**
 * The staged copies of this run's files in the place (a folder's data/, a bucket's staging area), by the final name
 * each stands for: `read` gives the bytes of the one of `bytes` bytes, if there is one.
 */
async function stagedCopies(
  place: ShardPlace,
  runTag: string,
  suffixes: readonly string[],
): Promise<{ read(finalName: string, bytes: number): Promise<{ name: string; bytes: Buffer } | undefined> }> {
  const area = place.staging ?? place
  const byFinal = stagedByFinalName(await area.list(), runTag, suffixes)
  return {
    async read(finalName, bytes) {
      const copy = byFinal.get(finalName)?.find((candidate) => candidate.bytes === bytes)
      const read = copy && (await area.read(copy.staged))
      return read && { name: copy.staged, bytes: read }
    },
  }
}
