/**
 * What a worker thread keeps of one range while it makes its items (worker.ts): the shard, the items' hashes, what
 * they used, the slowest, and what ended the range. Methods of a class rather than closures made per range: the item
 * loop calls the same functions range after range, so V8 does not throw away and recompile its optimised code at each
 * new range (a "wrong call target"): tens of milliseconds of compiler time per thread and run (bench/README.md).
 */
import { ValueNotRepresentableError } from '../../errors.ts'
import { ITEM_HASH_BYTES, type ShardBuilder } from '../../job/outputs/format.ts'
import { addUsage, type Usage } from '../../journal/usage.ts'
import type { RangeTask, TaskFailure } from './task.ts'

/** An item made, failed for good, or abandoned because the run is stopping. */
export type Made = (
  | { value: unknown; usage: Usage | undefined }
  | { error: Error; attempts: number }
  | { abandoned: true }
) & {
  /** What attempts that threw reported with `ctx.usage`. */
  failedUsage: Usage
}
export type Timed = Made & { ms: number }

/** What the range needs of its thread. */
export interface ItemThread {
  /** The run is stopping: no item starts. */
  readonly stopping: boolean
  /** An item finished after `ms`: counted for the run's rate, ETA and stalls. */
  countFinished(ms: number): void
}

export class RangeItems {
  failure: TaskFailure | undefined
  slowestItemMs = 0
  readonly usage: Record<string, number> = {}
  readonly failedUsage: Record<string, number> = {}
  private readonly deadline: number

  constructor(
    readonly task: RangeTask,
    readonly shard: ShardBuilder,
    /** Where item i's hash goes, at (i - task.start) × 32. */
    readonly hashes: Uint8Array,
    /** The input's records of the range, for input-driven jobs. */
    private readonly records: unknown[] | undefined,
    private readonly thread: ItemThread,
    started: number,
  ) {
    this.deadline = started + task.checkpointMs
  }

  /** What the item function is given for item `i`: its record, or its index. */
  arg(i: number): unknown {
    return this.records ? this.records[i - this.task.start] : i
  }

  /** Whether item `i` may start at `now`: the first item always; later ones not past the deadline or the size cap. */
  mayStart(i: number, now: number): boolean {
    return (
      !this.thread.stopping && (i === this.task.start || (now < this.deadline && this.shard.bytes < this.task.maxBytes))
    )
  }

  /** Takes item `i`'s value into the shard, its hash into the range's; false: the output cannot write it. */
  takeValue(i: number, value: unknown, used: Usage | undefined, ms: number): boolean {
    if (ms > this.slowestItemMs) this.slowestItemMs = ms
    try {
      this.hashes.set(this.shard.add(value, i), (i - this.task.start) * ITEM_HASH_BYTES)
    } catch (error) {
      this.failure = valueFailure(error, i)
      return false
    }
    addUsage(this.usage, used)
    this.thread.countFinished(ms)
    return true
  }

  /** Takes item `i` as it ended; false: the range ends before it (it failed for good, or the run is stopping). */
  take(i: number, made: Timed): boolean {
    // What attempts that threw used goes with the item's range, whether the item was then made or failed for good.
    if ('value' in made) {
      addUsage(this.failedUsage, made.failedUsage)
      return this.takeValue(i, made.value, made.usage, made.ms)
    }
    if (made.ms > this.slowestItemMs) this.slowestItemMs = made.ms
    if ('abandoned' in made) return false
    // An item that failed for good ends the range after the items before it.
    addUsage(this.failedUsage, made.failedUsage)
    this.failure = {
      kind: 'item',
      index: i,
      attempts: made.attempts,
      message: made.error.message,
      stack: made.error.stack,
    }
    return false
  }
}

/** The output cannot write an item's value: deterministic, so not retried; the error names the item, field and value. */
function valueFailure(error: unknown, index: number): TaskFailure {
  return error instanceof ValueNotRepresentableError
    ? {
        kind: 'value',
        index,
        attempts: 1,
        message: error.message,
        field: error.field,
        value: error.value,
        reason: error.reason,
        ...(error.itemStack && { stack: error.itemStack }),
      }
    : { kind: 'item', index, attempts: 1, message: (error as Error).message, stack: (error as Error).stack }
}
