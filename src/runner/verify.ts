import { createHash } from 'node:crypto'
import { tmpdir } from 'node:os'
import { UsageError } from '../errors.ts'
import type { JobIdentity } from '../job/fingerprint.ts'
import { formatFromDescription } from '../job/outputs/fromDescription.ts'
import { ITEM_HASH_BYTES } from '../job/outputs/format.ts'
import { PostgresStore } from '../store/postgres/postgresStore.ts'
import { openRunJournal } from '../store/runJournal.ts'
import type { Store } from '../store/store.ts'
import { shardsOf } from './sharedRun.ts'
import { openBucketPlace } from './bucket.ts'
import { folderPlace, type ShardPlace } from './shardPlace.ts'
import { runPaths } from './runDir.ts'
import { INDEX_FILE } from './shardNames.ts'
import { verifyLoopRun } from './loop/verifyLoop.ts'

export interface VerifyReport {
  readonly dir: string
  readonly job: string
  readonly complete: boolean
  readonly total: number
  /** Items present, intact and counted once. */
  readonly items: number
  readonly missing: number
  readonly duplicates: number
  readonly corrupt: number
  /** Files in data/ that the journal does not record (debris of a crash not yet resumed). */
  readonly stray: readonly string[]
  /** The dataset digest; null unless the output is complete and clean. */
  readonly digest: string | null
  /** The first problems found, in words. */
  readonly problems: readonly string[]
  /** What `items` counts: steps for a loop. @default items */
  readonly unit?: 'items' | 'steps'
}

const MAX_PROBLEMS = 20

/**
 * Proves an output complete, duplicate-free and uncorrupted from its files:
 * every recorded file is re-hashed, every item's hash is recomputed from the
 * bytes, the ranges must tile 0 … total-1 exactly once.
 */
export async function verifyRun(dir: string | undefined, options: VerifyTarget = {}): Promise<VerifyReport> {
  const { store, shards } = await openJournal(dir, options)
  let place: ShardPlace | undefined
  try {
    const run = await store.getRun()
    if (!run) throw new UsageError(`${dir} has a journal but no run in it; start the run again.`)
    if (dir === undefined && shards === undefined) {
      throw new UsageError(`run '${run.runId}' keeps its shards in a shared folder, not a bucket: give that folder, as in  longhaul verify DIR`)
    }
    const paths = runPaths(dir ?? '.')
    const identity = JSON.parse(run.identity) as JobIdentity & { kind?: string }
    if (identity.kind === 'exec') {
      throw new UsageError(`${dir} holds a supervised program's run (longhaul exec): longhaul does not manage the program's output, so there is nothing to verify. \`longhaul status ${dir}\` shows how it ended.`)
    }
    if ((identity.output as { kind?: string } | undefined)?.kind === 'loop') return await verifyLoopRun(store, run, paths)
    const format = formatFromDescription(identity.output)
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
    for await (const range of store.rangesWithHashes()) {
      const count = range.end - range.start
      for (const file of range.files) recorded.add(file.name)
      if (range.start > next) {
        missing += range.start - next
        problem(`items ${next}–${range.start - 1} are missing`)
      }
      const overlap = Math.max(0, Math.min(range.end, next) - range.start)
      if (overlap > 0) {
        duplicates += overlap
        problem(`items ${range.start}–${range.start + overlap - 1} are recorded twice`)
      }
      const hashes = await readRangeHashes(place, range.files, format, count)
      if (typeof hashes === 'string' || !hashes.equals(range.itemHashes)) {
        corrupt += count
        problem(`items ${range.start}–${range.end - 1}: ${typeof hashes === 'string' ? hashes : 'item bytes differ from the journal'}`)
      } else {
        items += count - overlap
        digest.update(hashes.subarray(overlap * ITEM_HASH_BYTES))
      }
      next = Math.max(next, range.end)
    }
    if (next < run.total) {
      missing += run.total - next
      problem(`items ${next}–${run.total - 1} are missing`)
    }
    const stray = [...(await place.list()).keys()].filter((name) => name !== INDEX_FILE && !recorded.has(name))
    for (const name of stray.slice(0, 5)) problem(`data/${name} is not recorded in the journal`)
    const complete = missing === 0 && duplicates === 0 && corrupt === 0 && stray.length === 0 && items === run.total
    return { dir: place.where, job: run.job, complete, total: run.total, items, missing, duplicates, corrupt, stray, digest: complete ? digest.digest('hex') : null, problems }
  } finally {
    await store.close()
    place?.close()
  }
}

export interface VerifyTarget {
  /** The PostgreSQL database of a run started with --store. @default the one the folder records */
  readonly store?: string
  /** With `store`: the run to verify, for a run whose shards are in a bucket (no folder needed). */
  readonly runId?: string
}

/**
 * The run's journal (SQLite in the folder, the PostgreSQL run the folder
 * records — `store` overrides its database URL —, or the run `runId` of
 * `store`) and its bucket, if its shards are in one.
 */
async function openJournal(dir: string | undefined, { store: storeUrl, runId }: VerifyTarget): Promise<{ store: Store; shards: string | undefined }> {
  if (runId !== undefined) {
    if (storeUrl === undefined) throw new UsageError('--run names a run of a PostgreSQL journal: give its --store URL too')
    const store = await PostgresStore.open(storeUrl, { runId })
    return { store, shards: await shardsOf(store).catch(async (error: unknown) => {
      await store.close()
      throw error
    }) }
  }
  if (dir === undefined) throw new UsageError('give the run folder (the --out of `longhaul run`), or --store URL --run ID for a run whose shards are in a bucket')
  const opened = await openRunJournal(dir, storeUrl === undefined ? {} : { storeUrl })
  if (!opened) throw new UsageError(`${dir} holds no longhaul run (no .longhaul/journal.sqlite nor .longhaul/store.json). Give the --out folder of a run.`)
  return { store: opened.store, shards: opened.link?.shards }
}

async function readRangeHashes(
  place: ShardPlace,
  files: readonly { name: string; sha256: string }[],
  format: ReturnType<typeof formatFromDescription>,
  count: number,
): Promise<Buffer | string> {
  const contents = new Map<string, Buffer>()
  for (const file of files) {
    const bytes = await place.read(file.name)
    if (!bytes) return `data/${file.name} is missing`
    if (createHash('sha256').update(bytes).digest('hex') !== file.sha256) return `data/${file.name} fails its checksum`
    const suffix = format.suffixes.find((s) => file.name.endsWith(`.${s}`))
    if (suffix) contents.set(suffix, bytes)
  }
  try {
    return format.itemHashes(contents, count)
  } catch (error) {
    return (error as Error).message
  }
}
