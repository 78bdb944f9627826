/**
 * What verify computes for each committed range: its files re-hashed against
 * the journal's checksums, then every item's hash recomputed from the bytes.
 * Both are CPU-bound (an item is hashed on its own, millions of times), so a
 * large run's ranges are hashed in worker threads, one per core, while the
 * calling thread reads the next ranges' files and checks the results in index
 * order; a small run's are hashed in the calling thread, sparing the threads'
 * start-up.
 */
import { createHash } from 'node:crypto'
import { availableParallelism } from 'node:os'
import type { Piscina } from 'piscina'
import type { OutputFormat } from '../job/outputs/format.ts'
import { formatFromDescription } from '../job/outputs/fromDescription.ts'
import { itemHasherReady } from '../job/outputs/itemHash.ts'

/** A range's recorded files, read: each one's bytes (undefined: missing) and the checksum the journal records. */
export interface ReadFile {
  readonly name: string
  readonly sha256: string
  readonly bytes: Uint8Array | undefined
}

/** The task of one range: its files and item count, in the output format `output` describes. */
export interface RangeHashTask {
  readonly output: unknown
  readonly files: readonly ReadFile[]
  readonly count: number
}

/** A range's item hashes, or what is wrong with its files (a string). */
export type RangeHashes = Uint8Array | string

/** Below this many items, hashing in the calling thread costs less than starting threads for it. */
export const THREADS_ABOVE_ITEMS = 200_000

export interface RangeHasher {
  hash(task: RangeHashTask): Promise<RangeHashes>
  close(): Promise<void>
}

/** Hashes ranges in worker threads (one per core, at least two) when the run has more than `threadsAbove` items. */
export async function rangeHasher(items: number, threadsAbove = THREADS_ABOVE_ITEMS): Promise<RangeHasher> {
  const threads = Math.max(2, availableParallelism())
  if (items <= threadsAbove) {
    await itemHasherReady()
    return { hash: async (task) => hashRange(task), close: async () => undefined }
  }
  const { Piscina } = await import('piscina')
  const fromSource = import.meta.url.endsWith('.ts')
  const pool: Piscina = new Piscina({
    filename: new URL(`./rangeHashWorker.${fromSource ? 'ts' : 'js'}`, import.meta.url).href,
    ...(fromSource && { execArgv: ['--import', 'tsx'] }),
    minThreads: threads,
    maxThreads: threads,
    idleTimeout: Number.POSITIVE_INFINITY,
  })
  return {
    hash: (task) => pool.run(task) as Promise<RangeHashes>,
    close: () => pool.destroy(),
  }
}

const formats = new Map<string, OutputFormat>()

/** One range's item hashes from its files' bytes; what is wrong with them, in words, if they are not the recorded ones. */
export function hashRange({ output, files, count }: RangeHashTask): RangeHashes {
  const key = JSON.stringify(output)
  let format = formats.get(key)
  if (!format) formats.set(key, (format = formatFromDescription(output)))
  const contents = new Map<string, Buffer>()
  for (const file of files) {
    if (!file.bytes) return `data/${file.name} is missing`
    // Bytes that crossed to a worker thread arrive as a Uint8Array.
    const bytes = Buffer.from(file.bytes.buffer, file.bytes.byteOffset, file.bytes.byteLength)
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
