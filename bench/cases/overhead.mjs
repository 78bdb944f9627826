// Durable overhead: the same item function over the same items, (a) through
// runMapJob with one worker and default intervals, (b) in a bare loop that
// writes the same JSON lines to one file at the end. Runs alternate, b then a,
// `reps` times; the ratio is of the medians.
//
//   node bench/cases/overhead.mjs ITEM_US ITEMS REPS
import { readFileSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { runMapJob } from '../lib/longhaul.mjs'
import { emit, jobPath, median, round, say, scratch, watchItemsMade } from '../lib/report.mjs'

const [itemUs, items, reps] = process.argv.slice(2).map(Number)
const JOB = jobPath('busy.ts')
const TARGET = itemUs >= 1000 ? 1.03 : undefined

const job = (await import(JOB)).default
const params = job.params.parse({ us: itemUs })
// Worker threads started from now on load the job afresh and announce their first items
// (this thread's copy of the job, loaded above, stays silent).
process.env.BENCH_ANNOUNCE_FROM = '0'

/** The bare loop: what a script without longhaul would do. */
function bare(dir) {
  const cpu = process.cpuUsage()
  const started = performance.now()
  const lines = new Array(items)
  for (let index = 0; index < items; index++) {
    // The busy job draws no random numbers, so its context needs no rng.
    lines[index] = JSON.stringify(job.item(index, { index, params, seed: 0 }))
  }
  writeFileSync(join(dir, 'out.jsonl'), `${lines.join('\n')}\n`)
  return { ms: performance.now() - started, cpuMs: cpuMsSince(cpu), bytes: statSync(join(dir, 'out.jsonl')).size }
}

async function durable(dir) {
  const cpu = process.cpuUsage()
  const started = performance.now()
  const made = watchItemsMade(started)
  const summary = await runMapJob({ jobPath: JOB, outDir: dir, total: items, workers: 1, params: { us: itemUs } })
  const ms = performance.now() - started
  if (summary.state !== 'complete' || summary.committed !== items)
    throw new Error(`the durable run ended ${summary.state} with ${summary.committed} of ${items}`)
  return { ms, cpuMs: cpuMsSince(cpu), bytes: summary.bytesWritten, startMs: await made.firstMadeMs() }
}

/** The durable run's shards, in index order, hold exactly the bare loop's file. */
function checkSameBytes(bareDir, durableDir) {
  const index = JSON.parse(readFileSync(join(durableDir, 'data', 'index.json'), 'utf8'))
  const shards = index.shards.flatMap((shard) =>
    shard.files.map((name) => readFileSync(join(durableDir, 'data', name))),
  )
  if (!readFileSync(join(bareDir, 'out.jsonl')).equals(Buffer.concat(shards)))
    throw new Error('the bare loop and the durable run wrote different bytes')
}

/** CPU time of this process, all threads, since `before` (a process.cpuUsage()). */
function cpuMsSince(before) {
  const used = process.cpuUsage(before)
  return (used.user + used.system) / 1000
}

const bareRuns = []
const durableRuns = []
for (let rep = 0; rep < reps; rep++) {
  const bareDir = scratch(`overhead-${itemUs}-bare`)
  bareRuns.push(bare(bareDir))
  const durableDir = scratch(`overhead-${itemUs}-durable`)
  durableRuns.push(await durable(durableDir))
  say(
    `overhead ${itemUs} µs × ${items}: bare ${bareRuns.at(-1).ms.toFixed(0)} ms, durable ${durableRuns.at(-1).ms.toFixed(0)} ms`,
  )
  if (rep === reps - 1) checkSameBytes(bareDir, durableDir)
}

const bareMs = median(bareRuns.map((run) => run.ms))
const durableMs = median(durableRuns.map((run) => run.ms))
const startMs = median(durableRuns.map((run) => run.startMs))
const ratio = durableMs / bareMs
emit('overhead', {
  itemUs,
  items,
  workers: 1,
  reps,
  bareMs: round(bareMs, 1),
  durableMs: round(durableMs, 1),
  ratio: round(ratio),
  // From calling runMapJob to the first item made in the worker thread: the fixed start-up cost.
  durableStartMs: round(startMs, 1),
  ratioAfterStart: round((durableMs - startMs) / bareMs),
  // CPU time, all threads: less sensitive than wall time to other processes on the machine.
  bareCpuMs: round(median(bareRuns.map((run) => run.cpuMs)), 1),
  durableCpuMs: round(median(durableRuns.map((run) => run.cpuMs)), 1),
  bytes: durableRuns.at(-1).bytes,
  sameBytes: true,
  target: TARGET === undefined ? 'report only' : `ratio <= ${TARGET}`,
  ...(TARGET !== undefined && { pass: ratio <= TARGET }),
})
