/**
 * A worker thread (piscina): makes the items of one range, writes the range's
 * files durably, and returns their checksums and the items' hashes. The
 * coordinating thread records the commit; it never holds the items.
 */
import { setTimeout as sleep } from 'node:timers/promises'
import { workerData } from 'node:worker_threads'
import { loadJob } from '../job/loadJob.ts'
import { itemRng, type Rng } from '../job/rng.ts'
import { ITEM_HASH_BYTES } from '../job/outputs/format.ts'
import { fsyncDir, writeFileAtomic } from '../store/atomicFile.ts'
import { shardFileName } from './shardNames.ts'
import type { RangeResult, RangeTask, TaskFailure, WorkerSetup } from './task.ts'

const setup = workerData as WorkerSetup
const stop = new Int32Array(setup.stop)
const finished = new Int32Array(setup.finished)
const ready = loadJob(setup.jobPath).then((job) => ({
  job,
  readRecords: job.input ? job.input.reader(setup.inputHandle) : undefined,
}))

class ItemContext {
  private ownRng: Rng | undefined
  constructor(
    readonly index: number,
    readonly params: unknown,
    readonly seed: number,
  ) {}
  /** Created on first use: items that draw no random numbers pay nothing. */
  get rng(): Rng {
    return (this.ownRng ??= itemRng(this.seed, this.index))
  }
}

export default async function makeRange(task: RangeTask): Promise<RangeResult> {
  const { job, readRecords } = await ready
  const started = Date.now()
  const deadline = started + task.checkpointMs
  const shard = job.output.newShard()
  const hashes = Buffer.allocUnsafe((task.end - task.start) * ITEM_HASH_BYTES)
  const records = readRecords?.(task.start, task.end)
  let failure: TaskFailure | undefined
  let index = task.start
  for (; index < task.end; index++) {
    if (Atomics.load(stop, 0) !== 0) break
    if (index > task.start && (Date.now() >= deadline || shard.bytes >= task.maxBytes)) break
    const made = await makeItem(job.item, records ? records[index - task.start] : index, index, job.retries)
    if ('error' in made) {
      failure = { kind: 'item', index, attempts: made.attempts, message: made.error.message, stack: made.error.stack }
      break
    }
    try {
      hashes.set(shard.add(made.value, index), (index - task.start) * ITEM_HASH_BYTES)
      Atomics.add(finished, 0, 1)
    } catch (error) {
      failure = { kind: 'item', index, attempts: 1, message: (error as Error).message, stack: (error as Error).stack }
      break
    }
  }
  const busyMs = Date.now() - started
  if (index === task.start) return { start: task.start, end: index, files: [], itemHashes: new Uint8Array(0), busyMs, ...(failure && { failure }) }
  try {
    const files = shard.finish().map((file) => writeFileAtomic(setup.dataDir, shardFileName(task.start, index, file.suffix), file.chunks))
    fsyncDir(setup.dataDir)
    return { start: task.start, end: index, files, itemHashes: hashes.subarray(0, (index - task.start) * ITEM_HASH_BYTES), busyMs, ...(failure && { failure }) }
  } catch (error) {
    const cause = (error as Error).cause instanceof Error ? ((error as Error).cause as Error) : (error as Error)
    return { start: task.start, end: task.start, files: [], itemHashes: new Uint8Array(0), busyMs, failure: { kind: 'durability', message: cause.message } }
  }
}

type Made = { value: unknown } | { error: Error; attempts: number }

async function makeItem(item: (arg: never, ctx: never) => unknown, arg: unknown, index: number, retries: number): Promise<Made> {
  for (let attempt = 1; ; attempt++) {
    try {
      const out = item(arg as never, new ItemContext(index, setup.params, setup.seed) as never)
      return { value: isPromiseLike(out) ? await out : out }
    } catch (error) {
      if (attempt > retries || Atomics.load(stop, 0) !== 0) {
        return { error: error instanceof Error ? error : new Error(String(error)), attempts: attempt }
      }
      await sleep(100 * 2 ** (attempt - 1))
    }
  }
}

function isPromiseLike(value: unknown): value is PromiseLike<unknown> {
  return typeof value === 'object' && value !== null && typeof (value as { then?: unknown }).then === 'function'
}
