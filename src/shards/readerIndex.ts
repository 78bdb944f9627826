/**
 * data/index.json: the committed shard ranges in index order, for readers
 * without longhaul (a loader globbing the index rather than the folder). It
 * is made from the journal alone, so `run` can always rewrite it and
 * `verify` can always say whether the one on disk is the one it should be.
 */
import { isDeepStrictEqual } from 'node:util'
import type { Store } from '../journal/store.ts'
import { INDEX_FILE } from './shardNames.ts'
import type { ShardPlace } from './shardPlace.ts'

export interface ReaderIndex {
  readonly format: string
  /** The end of the last committed range. */
  readonly items: number
  readonly shards: readonly { readonly start: number; readonly end: number; readonly files: readonly string[] }[]
}

/** The index the journal's committed ranges make. */
export async function readerIndexOf(store: Store, format: string): Promise<ReaderIndex> {
  const shards: { start: number; end: number; files: string[] }[] = []
  for await (const range of store.ranges())
    shards.push({ start: range.start, end: range.end, files: range.files.map((file) => file.name) })
  return { format, items: shards.at(-1)?.end ?? 0, shards }
}

/** Writes data/index.json (atomically: a reader sees the old one or the new one whole). */
export async function writeReaderIndex(store: Store, place: ShardPlace, format: string): Promise<void> {
  const index = await readerIndexOf(store, format)
  await place.writeIndex(Buffer.from(`${JSON.stringify(index, null, 1)}\n`))
}

/**
 * What is wrong with the data/index.json a reader would use, in words;
 * undefined when it is exactly what the journal makes: present, valid JSON,
 * every committed range with its files, nothing else.
 */
export async function readerIndexProblem(place: ShardPlace, expected: ReaderIndex): Promise<string | undefined> {
  const fix = 'run the same `longhaul run` command to rewrite it from the journal'
  const bytes = await place.read(INDEX_FILE)
  if (!bytes)
    return `data/${INDEX_FILE} is missing: a reader that goes through it finds none of the ${expected.items} items; ${fix}`
  let found: unknown
  try {
    found = JSON.parse(bytes.toString('utf8'))
  } catch {
    return `data/${INDEX_FILE} is not valid JSON: a reader that goes through it fails; ${fix}`
  }
  if (isDeepStrictEqual(found, expected)) return undefined
  const listed = (found as Partial<ReaderIndex> | null)?.shards
  if (!Array.isArray(listed))
    return `data/${INDEX_FILE} lists no shards (the journal records ${expected.shards.length}); ${fix}`
  const key = (s: { start?: unknown; end?: unknown; files?: unknown }): string =>
    JSON.stringify([s.start, s.end, s.files])
  const present = new Set(listed.map((s) => key(s as object)))
  const wanted = new Set(expected.shards.map(key))
  const absent = expected.shards.filter((s) => !present.has(key(s)))
  const extra = listed.filter((s) => !wanted.has(key(s as object)))
  const parts = [
    ...(absent.length
      ? [
          `leaves out ${absent.length} committed range(s) (items ${absent[0]!.start}–${absent[0]!.end - 1}${absent.length > 1 ? ', …' : ''})`,
        ]
      : []),
    ...(extra.length ? [`lists ${extra.length} range(s) the journal does not record`] : []),
  ]
  return `data/${INDEX_FILE} does not match the journal: it ${parts.length ? parts.join(' and ') : 'differs in its format or item count'}; ${fix}`
}
