/**
 * A worker thread (piscina): makes the items of one range, writes the range's
 * files durably under the claim's staged names, and returns their checksums
 * and the items' hashes. The coordinating thread records the commit and then
 * gives the files their final names; it never holds the items.
 *
 * `createRangeMaker(job)` is what a worker runs, started from a bundle of the
 * job and this file (workerBundle.ts: plain JavaScript, quick to start).
 */
import { rmSync } from 'node:fs'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { workerData } from 'node:worker_threads'
import { RateLimitedError } from '../../errors.ts'
import { fsyncDir, type WrittenFile, writeFileDurably } from '../../files/atomicFile.ts'
import type { MapJob } from '../../job/defineJob.ts'
import { ITEM_HASH_BYTES } from '../../job/outputs/format.ts'
import { itemHasherReady } from '../../job/outputs/itemHash.ts'
import { addUsage, usageOrUndefined } from '../../journal/usage.ts'
import { retainedMemoryProbe } from '../../run/retainedMemory.ts'
import { shardFileName, stagedFileName } from '../../shards/shardNames.ts'
import { afterRateLimited, loadFetch, ONE_REQUEST } from '../rateLimit/limitedCall.ts'
import { SharedLimiter } from '../rateLimit/sharedLimiter.ts'
import { inIndexOrder, Slots } from './inIndexOrder.ts'
import { ItemContext, type ThreadScope } from './itemContext.ts'
import { type ItemThread, type Made, RangeItems, type Timed } from './rangeItems.ts'
import type { RangeResult, RangeTask, WorkerSetup } from './task.ts'

/** The function a worker thread runs for each range task. */
export function createRangeMaker(job: MapJob): (task: RangeTask) => Promise<RangeResult> {
  const maker = new RangeMaker(job, workerData as WorkerSetup)
  const measure = retainedMemoryProbe()
  if (!measure) return (task) => maker.make(task)
  return async (task) => {
    const result = await maker.make(task)
    return { ...result, retained: measure() }
  }
}

/** An item's first attempt, already called: its context and what the call gave (a promise, or a rejected one for a throw). */
interface FirstAttempt {
  readonly ctx: ItemContext
  readonly outcome: unknown
}
/** Where making a range's items one after another stopped (see makeInline). */
interface Inline {
  /** The first item not taken. */
  readonly next: number
  /** The range ends here: mayStart said no, or an item ended it. */
  readonly closed: boolean
  /** Item `next`, under way and holding a slot: it returned a promise or threw. */
  readonly started?: Promise<Timed>
}
class RangeMaker implements ItemThread {
  private readonly stop: Int32Array
  private readonly finished: Int32Array
  private readonly readRecords: ((start: number, end: number) => unknown[]) | undefined
  private readonly limiter: SharedLimiter
  /** What every item context of this thread shares. */
  private readonly scope: ThreadScope
  /** This thread's share of the process's items in flight, shared by the ranges it makes at once. */
  private readonly slots: Slots

  constructor(
    private readonly job: MapJob,
    private readonly setup: WorkerSetup,
  ) {
    this.stop = new Int32Array(setup.stop)
    this.finished = new Int32Array(setup.finished)
    this.readRecords = job.input ? job.input.reader(setup.inputHandle) : undefined
    this.limiter = new SharedLimiter(setup.rateLimit)
    if (this.limiter.paces) loadFetch()
    this.slots = new Slots(threadShare(setup))
    this.scope = { params: setup.params, seed: setup.seed, limiter: this.limiter, stopping: this.isStopping }
  }

  /** Items finished and not yet added to the shared count. */
  private unreported = 0

  /**
   * Adds a finished item to the count every thread shares (rate, ETA, stalls): items under a millisecond 64 at a
   * time, so that two threads do not contend for it at every item, each slower one at once.
   */
  countFinished(ms: number): void {
    if (++this.unreported >= 64 || ms >= 1) this.flushFinished()
  }

  private flushFinished(): void {
    if (this.unreported === 0) return
    Atomics.add(this.finished, 0, this.unreported)
    this.unreported = 0
  }

  get stopping(): boolean {
    return Atomics.load(this.stop, 0) !== 0
  }
  private readonly isStopping = (): boolean => this.stopping

  async make(task: RangeTask): Promise<RangeResult> {
    // Items are made without yielding to the event loop, and the thread waits for its next range without turning it
    // either (piscina's Atomics.wait): the WebAssembly hasher, compiled in a task of its own, must be ready first, or
    // every item would be hashed by node:crypto at about 3× the CPU (itemHash.ts).
    await itemHasherReady()
    const { job, setup } = this
    const started = Date.now()
    const shard = job.output.newShard()
    const hashes = hashesFor(task)
    let records: unknown[] | undefined
    try {
      records = this.readRecords?.(task.start, task.end)
    } catch (error) {
      return { ...nothingMade(task, 0, 0), failure: { kind: 'input', message: (error as Error).message } }
    }
    const range = new RangeItems(task, shard, hashes, records, this, started)
    // Items whose function returns values are made inline; from the first that returns a promise (or throws, or
    // finds every slot taken), many at once in index order.
    const inline = this.limiter.paces ? { next: task.start, closed: false } : this.makeInline(range)
    const index =
      inline.closed || (inline.next >= task.end && !inline.started)
        ? inline.next
        : await inIndexOrder<Timed>({
            start: inline.next,
            end: task.end,
            slots: this.slots,
            mayStart: (i) => range.mayStart(i, Date.now()),
            make: (i) => this.timedItem(range.arg(i), i),
            take: (i, made) => range.take(i, made),
            ...(inline.started && { started: inline.started }),
          })
    this.flushFinished()
    const busyMs = Date.now() - started
    const { failure, slowestItemMs, usage, failedUsage } = range
    const nothing = nothingMade(task, busyMs, slowestItemMs)
    if (index === task.start) {
      shard.release?.()
      return { ...nothing, ...(failure && { failure }) }
    }
    try {
      // Under the claim's staged name: only a recorded commit gives the final name (ShardPlace.finalize, after commitRange).
      const files: WrittenFile[] = []
      try {
        for (const file of shard.finish()) {
          const name = shardFileName(task.start, index, file.suffix)
          files.push({
            ...writeFileDurably(join(setup.dataDir, stagedFileName(setup.runTag, task.token, name)), file.chunks),
            name,
          })
        }
        fsyncDir(setup.dataDir)
      } catch (error) {
        for (const file of files)
          rmSync(join(setup.dataDir, stagedFileName(setup.runTag, task.token, file.name)), { force: true })
        throw error
      }
      const itemHashes = hashes.subarray(0, (index - task.start) * ITEM_HASH_BYTES)
      const used = { usage: usageOrUndefined(usage), failedUsage: usageOrUndefined(failedUsage) }
      return {
        start: task.start,
        end: index,
        files,
        itemHashes,
        busyMs,
        slowestItemMs,
        ...(used.usage && { usage: used.usage }),
        ...(used.failedUsage && { failedUsage: used.failedUsage }),
        ...(failure && { failure }),
      }
    } catch (error) {
      const cause = (error as Error).cause instanceof Error ? ((error as Error).cause as Error) : (error as Error)
      return { ...nothing, failure: { kind: 'durability', message: cause.message } }
    } finally {
      shard.release?.()
    }
  }

  /**
   * Items [task.start, …) made one after another while the item function returns values: no promise and no
   * bookkeeping of items in flight per item, which is most of what a trivial item costs. Each holds a slot while it is
   * made, as items in flight do. Stops at the range's end, where the range's `mayStart` says no or its `takeValue` ends it, where no
   * slot is free, or at the first item that returns a promise or throws, handed back under way.
   */
  private makeInline(range: RangeItems): Inline {
    const { task } = range
    // One clock read an item: the moment an item returned is the next one's start (its take, a few µs, counted in it).
    let now = Date.now()
    for (let i = task.start; i < task.end; i++) {
      if (!this.slots.take()) return { next: i, closed: false }
      if (!range.mayStart(i, now)) {
        this.slots.give()
        return { next: i, closed: true }
      }
      const begun = now
      const ctx = new ItemContext(i, this.scope)
      let out: unknown
      try {
        out = this.callItem(range.arg(i), ctx)
      } catch (error) {
        out = Promise.reject(error)
      }
      if (isPromiseLike(out))
        return { next: i, closed: false, started: this.timedItem(range.arg(i), i, { ctx, outcome: out }, begun) }
      this.slots.give()
      now = Date.now()
      if (!range.takeValue(i, out, ctx.used, now - begun)) return { next: i, closed: true }
    }
    return { next: task.end, closed: false }
  }

  /** One item with how long it took, start to end (retries included). */
  private async timedItem(arg: unknown, index: number, first?: FirstAttempt, started = Date.now()): Promise<Timed> {
    const made = await this.makeItem(arg, index, first)
    return { ...made, ms: Date.now() - started }
  }

  /**
   * One item, retried with backoff up to the job's `retries` (resolved by the coordinator); a call answered "rate
   * limited" is made again after its own backoff, not counted against them (rateLimit/limitedCall.ts). Never rejects.
   */
  private async makeItem(arg: unknown, index: number, first?: FirstAttempt): Promise<Made> {
    const stopping = this.isStopping
    const failedUsage: Record<string, number> = {}
    let rateLimited = 0
    let called = first
    for (let attempt = 1; ; ) {
      let ctx: ItemContext | undefined
      try {
        let out: unknown
        if (called) {
          ctx = called.ctx
          out = called.outcome
          called = undefined
        } else {
          if (this.limiter.paces && !(await this.limiter.take(ONE_REQUEST, stopping)))
            return { abandoned: true, failedUsage }
          ctx = new ItemContext(index, this.scope)
          out = this.callItem(arg, ctx)
        }
        return { value: isPromiseLike(out) ? await out : out, usage: ctx.used, failedUsage }
      } catch (error) {
        addUsage(failedUsage, ctx?.used)
        // Stopping (Ctrl-C): the item is left for the next run, not failed.
        if (this.stopping) return { abandoned: true, failedUsage }
        if (error instanceof RateLimitedError) {
          const wait = afterRateLimited(this.limiter, error, ++rateLimited)
          if (wait instanceof Error) return { error: wait, attempts: attempt, failedUsage }
          if (!(await this.limiter.wait(wait, stopping))) return { abandoned: true, failedUsage }
          continue
        }
        if (attempt > this.setup.retries) {
          return { error: error instanceof Error ? error : new Error(String(error)), attempts: attempt, failedUsage }
        }
        await sleep(100 * 2 ** (attempt - 1))
        attempt++
      }
    }
  }

  /** The one place the job's item function is called: one attempt at one item; its value, or a promise of it. */
  private callItem(arg: unknown, ctx: ItemContext): unknown {
    return this.job.item(arg as never, ctx as never)
  }
}

/** Where the range's item hashes go: the coordinator's slot for it (no copy, nothing to collect), else memory of its own. */
function hashesFor(task: RangeTask): Uint8Array {
  const bytes = (task.end - task.start) * ITEM_HASH_BYTES
  return task.hashes && task.hashes.byteLength >= bytes ? new Uint8Array(task.hashes, 0, bytes) : new Uint8Array(bytes)
}

/**
 * This thread's share of the process's `concurrency`: the threads number themselves as they start, and the shares add
 * up to it (64 over 3 threads: 22, 21, 21).
 */
function threadShare(setup: WorkerSetup): number {
  const ordinal = Atomics.add(new Int32Array(setup.threadsStarted), 0, 1) % setup.threads
  return Math.floor(setup.concurrency / setup.threads) + (ordinal < setup.concurrency % setup.threads ? 1 : 0)
}

/** A range's result when nothing of it was made: it ends where it starts, with no files and no hashes. */
function nothingMade(task: RangeTask, busyMs: number, slowestItemMs: number) {
  return { start: task.start, end: task.start, files: [], itemHashes: new Uint8Array(0), busyMs, slowestItemMs }
}

function isPromiseLike(value: unknown): value is PromiseLike<unknown> {
  return typeof value === 'object' && value !== null && typeof (value as { then?: unknown }).then === 'function'
}
