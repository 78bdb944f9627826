// Python jobs: (1) overhead: the same ~ITEM_MS ms numpy items (jobs/pywork.py) through
// runMapJob on jobs/pybusy.py with one Python worker and default intervals, against a
// bare Python loop (jobs/pybare.py) that saves the same rows as one .npy at the end.
// Runs alternate, bare then durable, `reps` times; the ratio is of the medians, both
// timed from the start of their process(es) to the end (interpreter start-up included
// on both sides). (2) speed-up: the same job with 1 worker and with one per core,
// alternating, `speedupReps` times each; alongside, what the machine itself allows:
// the same items split over 1 and over `cores` bare Python loops run at once.
//
//   node bench/cases/python.mjs ITEM_MS ITEMS REPS SPEEDUP_ITEMS SPEEDUP_REPS
import { execFileSync, spawn, spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { availableParallelism } from 'node:os'
import { join } from 'node:path'
import { runMapJob } from '../lib/longhaul.mjs'
import { emit, jobPath, loadAverage, median, round, say, scratch } from '../lib/report.mjs'

const [itemMs, items, reps, speedupItems, speedupReps] = process.argv.slice(2).map(Number)
const JOB = jobPath('pybusy.py')
const BARE = jobPath('pybare.py')
const cores = availableParallelism()
const rounds = Number(execFileSync('python3', [BARE, 'calibrate', String(itemMs)], { encoding: 'utf8' }).trim())

/**
 * CPU time so far, ms: this process (all threads) and its children that have ended (the Python processes, once
 * reaped: /proc/self/stat's cutime and cstime, in clock ticks of 10 ms). Less disturbed than wall time by the
 * other processes on a shared machine.
 */
function cpuMs() {
  const own = process.cpuUsage()
  const fields = readFileSync('/proc/self/stat', 'utf8').split(') ')[1].split(' ')
  // After "pid (comm) ", fields[0] is the state (field 3); cutime and cstime are fields 16 and 17.
  const children = (Number(fields[13]) + Number(fields[14])) * 10
  return { own: (own.user + own.system) / 1000, children }
}

function cpuSince(before) {
  const now = cpuMs()
  return { own: now.own - before.own, python: now.children - before.children }
}

function bare(dir) {
  const cpu = cpuMs()
  const started = performance.now()
  const done = spawnSync('python3', [BARE, String(rounds), String(items), join(dir, 'out.npy')], { stdio: 'inherit' })
  if (done.status !== 0) throw new Error(`the bare loop exited with ${done.status}`)
  return { ms: performance.now() - started, cpu: cpuSince(cpu) }
}

/** Wall time of `processes` bare loops started at once, each making its share of `total` items. */
async function bareSplit(dir, processes, total) {
  const started = performance.now()
  await Promise.all(
    Array.from({ length: processes }, (_, p) => {
      const first = Math.floor((total * p) / processes)
      const count = Math.floor((total * (p + 1)) / processes) - first
      const args = [BARE, String(rounds), String(count), join(dir, `out-${p}.npy`), String(first)]
      return new Promise((resolve, reject) =>
        spawn('python3', args, { stdio: 'inherit' })
          .once('error', reject)
          .once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`a bare loop exited with ${code}`)))),
      )
    }),
  )
  return performance.now() - started
}

/** Wall time of the runMapJob call, and its start-up: from the call to the first commit (a range of one item). */
async function durable(dir, workers, total) {
  const cpu = cpuMs()
  const started = performance.now()
  let firstCommitMs
  const summary = await runMapJob({
    jobPath: JOB,
    outDir: dir,
    total,
    workers,
    params: { rounds },
    observer: {
      committed: () => {
        firstCommitMs ??= performance.now() - started
      },
    },
  })
  if (summary.state !== 'complete' || summary.committed !== total)
    throw new Error(`the durable run ended ${summary.state} with ${summary.committed} of ${total}`)
  const ms = performance.now() - started
  // The worker processes are reaped just after the run ends: wait for their CPU time to be counted.
  await new Promise((resolve) => setTimeout(resolve, 200))
  return { ms, startMs: firstCommitMs, cpu: cpuSince(cpu) }
}

/** The rows of an .npy file: its bytes after the header. */
function payload(path) {
  const bytes = readFileSync(path)
  return bytes.subarray(10 + bytes.readUInt16LE(8))
}

/** The durable run's shards, in index order, hold the bare loop's rows byte for byte (headers aside: one file vs shards). */
function checkSameBytes(bareDir, durableDir) {
  const index = JSON.parse(readFileSync(join(durableDir, 'data', 'index.json'), 'utf8'))
  const rows = Buffer.concat(index.shards.map((shard) => payload(join(durableDir, 'data', shard.files[0]))))
  if (!payload(join(bareDir, 'out.npy')).equals(rows))
    throw new Error('the bare loop and the durable run wrote different rows')
  return index.shards.length
}

// Not timed: a first run of each, so that neither side pays for a cold disk cache or Python's first bytecode compile.
bare(scratch('python-overhead-bare'))
await durable(scratch('python-overhead-durable'), 1, 20)

const bareRuns = []
const durableRuns = []
let shards
for (let rep = 0; rep < reps; rep++) {
  const bareDir = scratch('python-overhead-bare')
  bareRuns.push(bare(bareDir))
  const durableDir = scratch('python-overhead-durable')
  durableRuns.push(await durable(durableDir, 1, items))
  say(
    `python overhead ${itemMs} ms × ${items}: bare ${bareRuns.at(-1).ms.toFixed(0)} ms, durable ${durableRuns.at(-1).ms.toFixed(0)} ms`,
  )
  shards = checkSameBytes(bareDir, durableDir)
}
const bareMs = median(bareRuns.map((run) => run.ms))
const durableMs = median(durableRuns.map((run) => run.ms))
const startMs = median(durableRuns.map((run) => run.startMs))
emit('python-overhead', {
  itemMs,
  rounds,
  items,
  workers: 1,
  reps,
  bareMs: round(bareMs, 1),
  durableMs: round(durableMs, 1),
  bareRunsMs: bareRuns.map((run) => round(run.ms, 0)),
  durableRunsMs: durableRuns.map((run) => round(run.ms, 0)),
  overheadPct: round((durableMs / bareMs - 1) * 100, 2),
  // From calling runMapJob to the first commit (describe, worker start, first item, its commit): the fixed start-up.
  durableStartMs: round(startMs, 1),
  overheadAfterStartPct: round(((durableMs - startMs) / bareMs - 1) * 100, 2),
  // CPU time, ms (median): the Python processes (reaped children) and this Node process (longhaul's coordinator).
  bareCpuMs: round(median(bareRuns.map((run) => run.cpu.python)), 0),
  durablePythonCpuMs: round(median(durableRuns.map((run) => run.cpu.python)), 0),
  durableNodeCpuMs: round(median(durableRuns.map((run) => run.cpu.own)), 0),
  shards,
  sameRows: true,
  target: 'overheadPct <= 5',
  pass: durableMs / bareMs <= 1.05,
})

const speedupLoad = loadAverage()
const walls = { 1: [], [cores]: [] }
const bareWalls = { 1: [], [cores]: [] }
for (let rep = 0; rep < speedupReps; rep++) {
  for (const workers of [1, cores]) {
    walls[workers].push(await durable(scratch(`python-speedup-${workers}`), workers, speedupItems))
    bareWalls[workers].push(await bareSplit(scratch(`python-speedup-bare-${workers}`), workers, speedupItems))
    say(
      `python speedup ${speedupItems} items, ${workers} worker(s): ${walls[workers].at(-1).ms.toFixed(0)} ms (bare loops ${bareWalls[workers].at(-1).toFixed(0)} ms)`,
    )
  }
}
const oneMs = median(walls[1].map((run) => run.ms))
const manyMs = median(walls[cores].map((run) => run.ms))
const afterStart = (runs) => median(runs.map((run) => run.ms - run.startMs))
emit('python-speedup', {
  itemMs,
  rounds,
  items: speedupItems,
  cores,
  reps: speedupReps,
  oneWorkerMs: round(oneMs, 1),
  allWorkersMs: round(manyMs, 1),
  speedup: round(oneMs / manyMs),
  perCore: round(oneMs / manyMs / cores),
  oneWorkerStartMs: round(median(walls[1].map((run) => run.startMs)), 1),
  allWorkersStartMs: round(median(walls[cores].map((run) => run.startMs)), 1),
  speedupAfterStart: round(afterStart(walls[1]) / afterStart(walls[cores])),
  // The same items over 1 and over `cores` bare Python processes: what the machine allows while it is measured.
  bareProcessesSpeedup: round(median(bareWalls[1]) / median(bareWalls[cores])),
  // How busy the machine was (uptime's 1, 5, 15 minute load averages) when the speed-up runs began and ended.
  loadAverage: { before: speedupLoad, after: loadAverage() },
  oneWorkerPythonCpuMs: round(median(walls[1].map((run) => run.cpu.python)), 0),
  allWorkersPythonCpuMs: round(median(walls[cores].map((run) => run.cpu.python)), 0),
  target: `speedup >= ${0.9 * cores} (0.9 x ${cores} cores)`,
  pass: oneMs / manyMs >= 0.9 * cores,
})
