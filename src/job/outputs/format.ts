/**
 * An output format turns the records of one range of items into the bytes of
 * that range's files, and gives each item a hash. The dataset digest is sha256
 * over those per-item hashes in index order, so it does not depend on how the
 * items were chunked into shards.
 */

export const ITEM_HASH_BYTES = 32

export interface ShardFileContent {
  /** What follows the range in the file name: `jsonl`, `video.npy`. */
  readonly suffix: string
  readonly chunks: readonly Buffer[]
}

/** Collects the records of one range in index order. */
export interface ShardBuilder {
  /** Adds the next item; returns its 32-byte hash. Throws a TypeError naming the problem on a bad record. */
  add(record: unknown, index: number): Uint8Array
  /** Bytes collected so far (to cap a shard's size). */
  readonly bytes: number
  finish(): ShardFileContent[]
  /** The files `finish` gave are written: their memory may be reused. */
  release?(): void
}

export interface OutputFormat {
  readonly kind: 'jsonl' | 'npy'
  /** A JSON description of the format; part of the job fingerprint and of data/index.json. */
  readonly description: Readonly<Record<string, unknown>>
  /** The file suffixes every shard has, in a fixed order. */
  readonly suffixes: readonly string[]
  newShard(): ShardBuilder
  /**
   * Reads one shard's files back (keyed by suffix) and returns the per-item
   * hashes, `count` × 32 bytes in index order. Throws when the bytes are not a
   * well-formed shard of `count` items.
   */
  itemHashes(files: ReadonlyMap<string, Buffer>, count: number): Buffer
  /**
   * Reads one shard's files back (keyed by suffix) into its `count` records,
   * in index order, as a reader without longhaul sees them (data validators
   * check these). Throws when the bytes are not a well-formed shard of `count`
   * items.
   */
  readRecords(files: ReadonlyMap<string, Buffer>, count: number): unknown[]
}
