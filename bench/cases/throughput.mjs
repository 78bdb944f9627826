// Throughput: trivial items through the full durable path (claim, make in
// worker threads, write shards durably, commit to the journal, digest), with
// one worker per core. Items/s is over the whole runMapJob call. Beside it, the floor: one thread making the same
// JSON lines and their sha256 (the same hasher longhaul uses) with nothing else, in CPU µs per item. On Linux, the
// CPU per item is also split by thread: the coordinator (this thread: claims, commits, digest, progress), the item
// threads (the worker threads the run starts, their start-up included) and the others (V8's garbage collection and
// compiler helpers, libuv's file system threads).
//
//   node bench/cases/throughput.mjs ITEMS REPS
import { readdirSync, readFileSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { availableParallelism } from 'node:os'
import sha256 from 'hash-wasm/dist/sha256.umd.min.js'
import { runMapJob } from '../lib/longhaul.mjs'
import { emit, jobPath, median, round, say, scratch } from '../lib/report.mjs'

const [items, reps] = process.argv.slice(2).map(Number)
const TARGET = 1_000_000
const workers = availableParallelism()

/** Linux's clock ticks per second, in which /proc gives a thread's CPU time (USER_HZ: 100 on every usual kernel). */
const US_PER_TICK = 1e6 / 100

/** CPU µs each thread of this process has used, by thread id; empty where /proc/self/task is not there. */
function cpuByThread() {
  const used = new Map()
  let ids = []
  try {
    ids = readdirSync('/proc/self/task')
  } catch {
    return used
  }
  for (const id of ids) {
    try {
      const stat = readFileSync(`/proc/self/task/${id}/stat`, 'utf8')
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
      used.set(id, (Number(fields[11]) + Number(fields[12])) * US_PER_TICK)
    } catch {
      // The thread ended meanwhile.
    }
  }
  return used
}

/**
 * CPU µs per item of the coordinator, the item threads and the others between `before` and `after` (each thread as
 * last seen: a worker thread is read at each commit, the last one after its last range, before the pool ends it).
 */
function splitByThread(before, after) {
  const split = { coordinator: 0, itemThreads: 0, otherThreads: 0 }
  for (const [id, used] of after) {
    const part = id === String(process.pid) ? 'coordinator' : before.has(id) ? 'otherThreads' : 'itemThreads'
    split[part] += used - (before.get(id) ?? 0)
  }
  return Object.fromEntries(Object.entries(split).map(([part, used]) => [part, used / items]))
}

// libuv starts its file system threads on first use: started now, they are not taken for the run's worker threads.
await readFile(jobPath('trivial.ts'))

const runs = []
for (let rep = 0; rep < reps; rep++) {
  const threadsBefore = cpuByThread()
  const threadsSeen = new Map(threadsBefore)
  const cpu = process.cpuUsage()
  const started = performance.now()
  let firstCommit
  const summary = await runMapJob({
    jobPath: jobPath('trivial.ts'),
    outDir: scratch('throughput'),
    total: items,
    workers,
    observer: {
      committed: (progress) => {
        firstCommit ??= { ms: performance.now() - started, items: progress.committed, cpu: process.cpuUsage() }
        for (const [id, used] of cpuByThread()) threadsSeen.set(id, used)
      },
    },
  })
  const ms = performance.now() - started
  if (summary.state !== 'complete' || summary.committed !== items)
    throw new Error(`the run ended ${summary.state} with ${summary.committed} of ${items}`)
  const used = process.cpuUsage(cpu)
  for (const [id, usedNow] of cpuByThread()) threadsSeen.set(id, usedNow)
  const usedAfterFirstCommit = process.cpuUsage(firstCommit.cpu)
  runs.push({
    byThread: splitByThread(threadsBefore, threadsSeen),
    ms,
    perSecond: (items * 1000) / ms,
    afterFirstCommit: ((items - firstCommit.items) * 1000) / (ms - firstCommit.ms),
    firstCommitMs: firstCommit.ms,
    cpuUsPerItem: (used.user + used.system) / items,
    cpuUsPerItemAfterFirstCommit:
      (usedAfterFirstCommit.user + usedAfterFirstCommit.system) / (items - firstCommit.items),
  })
  say(
    `throughput ${items} items, ${workers} workers: ${ms.toFixed(0)} ms, ${Math.round(runs.at(-1).perSecond)} items/s`,
  )
}

/**
 * CPU µs per item of a bare loop doing what longhaul does per item and nothing else: the item's JSON text written into
 * one growing buffer with its newline, sha256 of the line (the same WebAssembly hasher), the hash kept.
 */
async function floorCpuUsPerItem() {
  const hasher = await sha256.createSHA256()
  const lines = Buffer.allocUnsafe(items * 24)
  const hashes = Buffer.allocUnsafe(items * 32)
  const cpu = process.cpuUsage()
  let at = 0
  for (let i = 0; i < items; i++) {
    const end = at + lines.write(JSON.stringify({ i }), at)
    hasher.init()
    hasher.update(lines.subarray(at, end))
    hashes.set(hasher.digest('binary'), i * 32)
    lines[end] = 0x0a
    at = end + 1
  }
  const used = process.cpuUsage(cpu)
  return (used.user + used.system) / items
}
const floors = []
for (let rep = 0; rep < reps; rep++) floors.push(await floorCpuUsPerItem())
const floor = median(floors)
say(`throughput floor: ${floor.toFixed(2)} µs of CPU per item in one bare thread`)

const perSecond = median(runs.map((run) => run.perSecond))
const cpuUsPerItem = median(runs.map((run) => run.cpuUsPerItem))
emit('throughput', {
  items,
  workers,
  reps,
  wallMs: round(median(runs.map((run) => run.ms)), 1),
  itemsPerSecond: Math.round(perSecond),
  runs: runs.map((run) => Math.round(run.perSecond)),
  // Excluding start-up (job load, fingerprint, worker threads) and the ramp to the first commit.
  itemsPerSecondAfterFirstCommit: Math.round(median(runs.map((run) => run.afterFirstCommit))),
  firstCommitMs: round(median(runs.map((run) => run.firstCommitMs)), 1),
  // CPU time of all threads per item (start-up included): what an item costs whatever else the machine is doing.
  cpuUsPerItem: round(cpuUsPerItem, 2),
  cpuUsPerItemAfterFirstCommit: round(median(runs.map((run) => run.cpuUsPerItemAfterFirstCommit)), 2),
  // The same, by thread (Linux; /proc counts in 10 ms steps per thread).
  cpuUsPerItemByThread: Object.fromEntries(
    ['coordinator', 'itemThreads', 'otherThreads'].map((part) => [
      part,
      round(median(runs.map((run) => run.byThread[part])), 3),
    ]),
  ),
  // The floor: a bare loop's CPU per item, and the items/s it would allow on every core with nothing else to do.
  floorCpuUsPerItem: round(floor, 2),
  floorItemsPerSecondOnAllCores: Math.round((workers * 1e6) / floor),
  cpuPerItemVsFloor: round(cpuUsPerItem / floor, 3),
  target: `itemsPerSecond >= ${TARGET}`,
  pass: perSecond >= TARGET,
})
