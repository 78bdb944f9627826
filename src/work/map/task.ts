import type { ShardFileRecord } from '../../journal/store.ts'
import type { RangeUsage } from '../../journal/usage.ts'
import type { LimiterSetup } from '../rateLimit/sharedLimiter.ts'

/** Given to every worker thread once. */
export interface WorkerSetup {
  readonly jobPath: string
  readonly params: unknown
  readonly seed: number
  readonly retries: number
  readonly dataDir: string
  /** The run's tag in staged file names (shardNames.ts). */
  readonly runTag: string
  /** The input's scan handle, for input-driven jobs. */
  readonly inputHandle: unknown
  /** Int32Array[1]: set to 1 to make every worker stop after its current item and commit. */
  readonly stop: SharedArrayBuffer
  /** Int32Array[1]: every worker adds 1 per item it finishes (for rate, ETA and stalls). */
  readonly finished: SharedArrayBuffer
  /** The rate limit every thread shares (rateLimit/sharedLimiter.ts). */
  readonly rateLimit: LimiterSetup
  /** Items in flight at once in the process, over all its threads (at least `threads`). */
  readonly concurrency: number
  /** The worker threads the process runs. */
  readonly threads: number
  /** Int32Array[1]: each thread adds 1 as it starts, which numbers it for its share of `concurrency`. */
  readonly threadsStarted: SharedArrayBuffer
}

/** Make items [start, end), stopping early at the deadline or the size cap. */
export interface RangeTask {
  readonly start: number
  readonly end: number
  /** The claim's fencing token: the range's files are written under staged names that carry it. */
  readonly token: number
  /** Commit what is done once this much time has passed since the task started. */
  readonly checkpointMs: number
  /** Commit what is done once the shard holds this many bytes. */
  readonly maxBytes: number
  /**
   * Where the items' hashes are written, 32 bytes each from byte 0: memory shared with the coordinating thread, which
   * commits them from there (hashSlots.ts). Absent, or too small for the range: the thread allocates them.
   */
  readonly hashes?: SharedArrayBuffer
}

export interface TaskFailure {
  /** item: an item failed; value: the output cannot write what an item returned; durability: a write failed; input: the input's records could not be read. */
  readonly kind: 'item' | 'value' | 'durability' | 'input'
  /** The item that failed (kinds item and value). */
  readonly index?: number
  readonly attempts?: number
  readonly message: string
  readonly stack?: string
  /** Kind value: where in the item, and the value as text (ValueNotRepresentableError). */
  readonly field?: string
  readonly value?: string
  readonly reason?: string
}

/** Items [start, end) were made and their files are durable under their staged names; `files` name the final names. `end` may be short of the task's end. */
export interface RangeResult extends RangeUsage {
  readonly start: number
  readonly end: number
  readonly files: readonly ShardFileRecord[]
  /** (end - start) × 32 bytes; a view of the task's `hashes` when it had them. */
  readonly itemHashes: Uint8Array
  /**
   * Set by a maker whose `itemHashes` are memory it lends (a hash slot): called once the range's commit has settled
   * (recorded, refused or failed), after which that memory may hold another range's hashes.
   */
  readonly release?: () => void
  /** Time spent making items, for chunk sizing. */
  readonly busyMs: number
  /** The longest any one item of the range took, ms (the part of lost work that no checkpoint interval can cut). */
  readonly slowestItemMs: number
  /** What the thread held after a full collection, when preflight measures it (see worker.ts). */
  readonly retained?: { readonly thread: number; readonly bytes: number }
  readonly failure?: TaskFailure
}
