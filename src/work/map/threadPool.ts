/**
 * The RangeMaker of a JS map job: a pool of worker threads (piscina), each
 * loading an esbuild bundle of the job (workerBundle.ts) and making ranges in
 * worker.ts. The bundle is built as soon as the pool is prepared, while the
 * run is opened; the threads start, and load it, while the run is reconciled.
 */
import { Piscina } from 'piscina'
import { LonghaulError } from '../../errors.ts'
import { HashSlots } from './hashSlots.ts'
import type { MakerStart, RangeMaker } from './rangeMaker.ts'
import type { RangeResult } from './task.ts'
import { buildWorkerBundle } from './workerBundle.ts'

/**
 * Worker threads map stack traces to the job's source, and load the bundle with import() where Node could take the
 * synchronous require(esm) path (Node versions that know the flag).
 */
const WORKER_EXEC_ARGV = [
  '--enable-source-maps',
  ...(process.allowedNodeEnvironmentFlags.has('--experimental-require-module')
    ? ['--no-experimental-require-module']
    : []),
]

/**
 * The young generation of a thread that makes one item at a time, MB. V8 sizes it by how much survives its collections,
 * and a long run of trivial items grew it to 8 MiB of semi-spaces per thread, all of it resident; at 2 MB the same run
 * took the same CPU and peaked 12 MiB lower with two threads (bench/README.md, "Memory").
 */
const YOUNG_GENERATION_MB = 2

/** A pool being prepared: the job's bundle is building. */
export interface PreparedPool {
  /** Starts `concurrency` threads once the bundle is built; rejects if it cannot be built. */
  start(how: MakerStart): Promise<RangeMaker>
  /** The run will not start (it was refused): waits for the bundle's build, so that nothing of it is left running. */
  abandon(): Promise<void>
}

/** Begins building the bundle of the job at `jobPath`; a failure to build is reported by `start`. */
export function prepareThreadPool(jobPath: string): PreparedPool {
  const bundle = buildWorkerBundle(jobPath)
  bundle.catch(() => undefined)
  return {
    abandon: () => bundle.then(() => undefined).catch(() => undefined),
    async start({ setup, concurrency, rangesPerThread = 1, onBroken }) {
      const pool = new Piscina({
        filename: await bundle,
        // Threads load the bundle with import(), not require(): Node 20 aborts the whole process when a thread is
        // terminated (the pool ending after a sibling failed to start) in the middle of a synchronous require of ES modules.
        // Stack traces of a failing item point into the job's own source, not the bundle.
        execArgv: WORKER_EXEC_ARGV,
        minThreads: concurrency,
        maxThreads: concurrency,
        concurrentTasksPerWorker: rangesPerThread,
        workerData: setup,
        idleTimeout: Number.POSITIVE_INFINITY,
        // A thread making one item at a time keeps little alive from one collection to the next; one with many items
        // in flight (`concurrency`) keeps them all, and is left to V8's own sizing.
        ...(setup.concurrency <= setup.threads && {
          resourceLimits: { maxYoungGenerationSizeMb: YOUNG_GENERATION_MB },
        }),
      })
      // A worker that cannot even start (the job throws while loading in a thread) fails the run cleanly.
      pool.on('error', (error: Error) => {
        onBroken(new LonghaulError('LONGHAUL_ITEM_FAILED', `a worker thread failed: ${error.message}`))
        // Piscina would start new threads that fail the same way; ending the pool settles the tasks waiting for them.
        void pool.destroy()
      })
      // Each range's item hashes are written by its thread into a slot shared with this one, committed from there.
      // A range claimed ahead of a free thread waits for one before it takes a slot.
      const slots = new HashSlots(concurrency * rangesPerThread)
      return {
        async make(task) {
          const slot = await slots.take(task.end - task.start)
          let result: RangeResult
          try {
            result = (await pool.run({ ...task, hashes: slot })) as RangeResult
          } catch (error) {
            slots.give(slot)
            // The thread itself failed (the job threw while loading, or ended the thread): the job's failure, not ours.
            throw new LonghaulError('LONGHAUL_ITEM_FAILED', `a worker thread failed: ${(error as Error).message}`)
          } finally {
            slots.made()
          }
          return { ...result, release: () => slots.give(slot) }
        },
        close: () => pool.destroy(),
      }
    },
  }
}
