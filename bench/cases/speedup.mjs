// Parallel speed-up: the same CPU-bound job with 1 worker and with one per
// core, alternating, `reps` times each; speed-up is the ratio of the median
// wall times of the runMapJob calls. The machine itself is measured alongside:
// bare worker threads (no longhaul) doing the same work, 1 thread against one
// per core (for trajectories, making the same clips and writing their bytes).
//
//   node bench/cases/speedup.mjs cpu ITEMS REPS [ITEM_MS]
//   node bench/cases/speedup.mjs trajectories ITEMS REPS
import { existsSync } from 'node:fs'
import { availableParallelism } from 'node:os'
import { join } from 'node:path'
import { Worker } from 'node:worker_threads'
import { spin } from '../jobs/kernel.mjs'
import { runMapJob } from '../lib/longhaul.mjs'
import { emit, jobPath, median, round, say, scratch } from '../lib/report.mjs'

const [which, itemsArg, repsArg, itemMsArg] = process.argv.slice(2)
const items = Number(itemsArg)
const reps = Number(repsArg)
const cores = availableParallelism()
const TARGET = 0.9 * cores

const TRAJECTORIES = new URL('../../examples/trajectories/job.ts', import.meta.url).pathname
const itemMs = Number(itemMsArg ?? 2)
let job
let params
let rounds
if (which === 'cpu') {
  rounds = calibrate(itemMs)
  job = jobPath('cpu.ts')
  params = { rounds }
} else if (which === 'trajectories') {
  if (!existsSync(TRAJECTORIES)) {
    say('speedup: examples/trajectories/job.ts does not exist; skipped')
    process.exit(0)
  }
  job = TRAJECTORIES
  params = {}
} else throw new Error(`unknown job '${which}': use cpu or trajectories`)

/** Wall time of the runMapJob call, and of its start-up: from the call to the first commit (a range of one item). */
async function durable(workers) {
  const started = performance.now()
  let firstCommitMs
  const summary = await runMapJob({
    jobPath: job,
    outDir: scratch(`speedup-${which}-${workers}`),
    total: items,
    workers,
    params,
    observer: {
      committed: () => {
        firstCommitMs ??= performance.now() - started
      },
    },
  })
  if (summary.state !== 'complete') throw new Error(`the run ended ${summary.state}`)
  return { ms: performance.now() - started, startMs: firstCommitMs }
}

const walls = { 1: [], [cores]: [] }
const bare = { 1: [], [cores]: [] }
/** The trajectories' bare threads without their start-up: the slowest thread's time making its clips. */
const bareMaking = { 1: [], [cores]: [] }
for (let rep = 0; rep < reps; rep++) {
  for (const workers of [1, cores]) {
    walls[workers].push(await durable(workers))
    bare[workers].push(await bareThreads(workers))
    say(
      `speedup ${which} ${items} items, ${workers} worker(s): ${walls[workers].at(-1).ms.toFixed(0)} ms (bare threads ${bare[workers].at(-1).toFixed(0)} ms)`,
    )
  }
}
const oneMs = median(walls[1].map((run) => run.ms))
const manyMs = median(walls[cores].map((run) => run.ms))
const speedup = oneMs / manyMs
const afterStart = (runs) => median(runs.map((run) => run.ms - run.startMs))
emit('speedup', {
  job: which,
  items,
  ...(rounds && { itemMs, rounds }),
  cores,
  reps,
  oneWorkerMs: round(oneMs, 1),
  allWorkersMs: round(manyMs, 1),
  speedup: round(speedup),
  perCore: round(speedup / cores),
  // Start-up (call → first commit) with 1 worker and with all; and the speed-up of what follows it.
  oneWorkerStartMs: round(median(walls[1].map((run) => run.startMs)), 1),
  allWorkersStartMs: round(median(walls[cores].map((run) => run.startMs)), 1),
  speedupAfterStart: round(afterStart(walls[1]) / afterStart(walls[cores])),
  // What the machine itself does with the same work: its speed-up, and each worker count's time against it.
  bareOneThreadMs: round(median(bare[1]), 1),
  bareAllThreadsMs: round(median(bare[cores]), 1),
  bareThreadsSpeedup: round(median(bare[1]) / median(bare[cores])),
  ...(which === 'trajectories' && {
    bareThreadsSpeedupAfterStart: round(median(bareMaking[1]) / median(bareMaking[cores])),
  }),
  target: `speedup >= ${TARGET} (0.9 x ${cores} cores)`,
  pass: speedup >= TARGET,
})

/** Rounds of kernel work that take about `ms` on one thread of this machine (measured here, in this thread). */
function calibrate(ms) {
  const probe = 200_000
  for (let i = 0; i < 20; i++) spin(i, probe)
  const started = performance.now()
  for (let i = 0; i < 20; i++) spin(i, probe)
  const perRound = (performance.now() - started) / (20 * probe)
  return Math.round(ms / perRound)
}

/** The same items' work split over `threads` plain worker threads: what the machine can do. */
async function bareThreads(threads) {
  const started = performance.now()
  if (which === 'trajectories') {
    // The trajectories' clips made and written (lib/bareTrajectories.mjs); each thread says how long its clips took.
    const dir = scratch(`speedup-bare-${threads}`)
    const script = new URL('../lib/bareTrajectories.mjs', import.meta.url)
    const making = await inThreads(threads, (t, from, to) => {
      return new Worker(script, { workerData: { from, to, file: join(dir, `clips-${t}.bin`) } })
    })
    bareMaking[threads].push(Math.max(...making))
  } else {
    const kernel = new URL('../jobs/kernel.mjs', import.meta.url).href
    const source = `
      import { parentPort, workerData } from 'node:worker_threads'
      const { spin } = await import(${JSON.stringify(kernel)})
      let sum = 0
      for (let index = workerData.from; index < workerData.to; index += 1) sum += spin(index, workerData.rounds)
      parentPort.postMessage(sum)`
    await inThreads(threads, (_, from, to) => {
      return new Worker(source, { eval: true, type: 'module', workerData: { from, to, rounds } })
    })
  }
  return performance.now() - started
}

/** The items split over `threads` worker threads made by `start(t, from, to)`: each thread's one message. */
function inThreads(threads, start) {
  return Promise.all(
    Array.from(
      { length: threads },
      (_, t) =>
        new Promise((resolve, reject) => {
          const from = Math.floor((items * t) / threads)
          const to = Math.floor((items * (t + 1)) / threads)
          start(t, from, to).once('message', resolve).once('error', reject)
        }),
    ),
  )
}
