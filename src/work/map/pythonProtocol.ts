/**
 * The messages between the map runner and a Python worker process
 * (python/longhaul.py, `worker`): JSON lines over a private socket, the
 * worker's fd 3, which it moves off that number and makes non-inheritable
 * before the job's code loads (no subprocess of the job can write to it, and
 * stdin/stdout stay the job's). The channel closing ends the worker at once.
 * A range's result line is followed by its items' hashes as raw bytes: 2 MB
 * at 65,536 items, which as base64 inside the JSON cost the worker four copies
 * of 2.8 MB and the runner two.
 */
import type { ShardFileRecord } from '../../journal/store.ts'
import type { RangeUsage } from '../../journal/usage.ts'
import type { RangeResult, RangeTask, TaskFailure } from './task.ts'

/** What the runner sends a worker: its setup once, first; then ranges to make; `stop` once the run stops. */
export type ToWorker =
  | {
      readonly type: 'setup'
      readonly params: unknown
      readonly seed: number
      readonly retries: number
      readonly dataDir: string
      readonly runTag: string
      /** The run was already stopping when this worker started. */
      readonly stop: boolean
      /** Items this worker process has in flight at once (its share of the concurrency): an async item's, on its asyncio loop. */
      readonly slots: number
      /** The units the run's rate limit counts (a call takes its place with `take` first), and the limit in words. */
      readonly limitedUnits: readonly string[]
      readonly limitText: string
    }
  /** `records`: an input job's records start … end-1, read by the runner (the worker makes item(record, ctx)). */
  | ({ readonly type: 'task'; readonly records?: readonly unknown[] } & RangeTask)
  | { readonly type: 'stop' }
  /**
   * The answer to `take` number `id`: make the call at `atMs` (ms since the epoch, the clock both processes read), not
   * before: the run's limit, or a service's Retry-After. A time, not a wait, so that a late answer makes no call late.
   */
  | { readonly type: 'granted'; readonly id: number; readonly atMs: number }
  /** A service said "rate limited, retry after `ms`" to another worker: this one holds its calls as long. */
  | { readonly type: 'pause'; readonly ms: number }

/** A range made, as the worker reports it; its items' hashes follow the line: `hashBytes` bytes, 32 an item. */
export interface WireResult extends RangeUsage {
  readonly type: 'result'
  readonly start: number
  readonly end: number
  readonly files: readonly ShardFileRecord[]
  readonly hashBytes: number
  readonly busyMs: number
  readonly slowestItemMs: number
  /** When preflight measures memory (LONGHAUL_MEASURE_RETAINED=1): the worker's resident memory after a collection, by pid. */
  readonly retained?: { readonly thread: number; readonly bytes: number }
  readonly failure?: TaskFailure
}

/** What a worker sends: ready (the job loaded) or broken (it did not, with the job's traceback); items finished since the last count; each range's result. */
export type FromWorker =
  | { readonly type: 'ready' }
  | { readonly type: 'broken'; readonly message: string; readonly stack?: string }
  | { readonly type: 'finished'; readonly count: number }
  /** A call asks its place under the run's rate limit (the process's one pacer): answered with `granted`. */
  | { readonly type: 'take'; readonly id: number; readonly amounts: Readonly<Record<string, number>> }
  /** A service answered "rate limited" (after `retryAfterMs`, when it said); the item waits `waitMs` before its next call. */
  | { readonly type: 'limited'; readonly retryAfterMs: number | null; readonly waitMs: number }
  | WireResult

export function encode(message: ToWorker): string {
  return `${JSON.stringify(message)}\n`
}

/** One line from a worker; undefined for a line that is not one of its messages (the channel is private: a bug if it happens). */
function decode(line: string): FromWorker | undefined {
  try {
    const message = JSON.parse(line) as FromWorker
    return typeof message === 'object' && message !== null && typeof message.type === 'string' ? message : undefined
  } catch {
    return undefined
  }
}

/**
 * Reads a worker's channel: calls `onMessage` with each message, and with a result's item hashes, whatever the
 * chunks the bytes arrive in. The chunks of a line or of the hashes are kept as they come and joined once.
 */
export class MessageReader {
  private parts: Buffer[] = []
  /** The result whose hashes are being read, and how many of their bytes are still to come. */
  private result: WireResult | undefined
  private missing = 0

  constructor(private readonly onMessage: (message: FromWorker, itemHashes?: Buffer) => void) {}

  push(chunk: Buffer): void {
    while (chunk.length > 0) {
      if (this.result) {
        const taken = Math.min(this.missing, chunk.length)
        this.parts.push(chunk.subarray(0, taken))
        this.missing -= taken
        chunk = chunk.subarray(taken)
        if (this.missing === 0) this.deliverResult(Buffer.concat(this.parts))
        continue
      }
      const newline = chunk.indexOf(0x0a)
      if (newline < 0) {
        this.parts.push(chunk)
        return
      }
      this.parts.push(chunk.subarray(0, newline))
      chunk = chunk.subarray(newline + 1)
      const message = decode(Buffer.concat(this.parts).toString('utf8'))
      this.parts = []
      if (message?.type === 'result') {
        this.result = message
        this.missing = message.hashBytes
        if (this.missing === 0) this.deliverResult(Buffer.alloc(0))
      } else if (message) this.onMessage(message)
    }
  }

  private deliverResult(itemHashes: Buffer): void {
    const result = this.result!
    this.result = undefined
    this.parts = []
    this.onMessage(result, itemHashes)
  }
}

export function toRangeResult(wire: WireResult, itemHashes: Buffer): RangeResult {
  return {
    start: wire.start,
    end: wire.end,
    files: wire.files,
    // Joined from the channel's chunks into memory of their own (MessageReader): no copy needed.
    itemHashes,
    busyMs: wire.busyMs,
    slowestItemMs: wire.slowestItemMs,
    ...(wire.retained && { retained: wire.retained }),
    ...(wire.usage && { usage: wire.usage }),
    ...(wire.failedUsage && { failedUsage: wire.failedUsage }),
    ...(wire.failure && { failure: wire.failure }),
  }
}

/**
 * The message that hands a worker a range: for an input job, with the range's records, read here with the input's
 * reader; when they cannot be read (the input changed during the run), the range's result instead, failed.
 */
export function taskMessage(
  task: RangeTask,
  readRecords: ((start: number, end: number) => unknown[]) | undefined,
): ToWorker | WireResult {
  if (!readRecords) return { type: 'task', ...task }
  try {
    return { type: 'task', ...task, records: readRecords(task.start, task.end) }
  } catch (error) {
    const nothing = { start: task.start, end: task.start, files: [], hashBytes: 0, busyMs: 0, slowestItemMs: 0 }
    return { type: 'result', ...nothing, failure: { kind: 'input', message: (error as Error).message } }
  }
}
