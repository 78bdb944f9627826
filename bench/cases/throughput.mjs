// Throughput: trivial items through the full durable path (claim, make in
// worker threads, write shards durably, commit to the journal, digest), with
// one worker per core. Items/s is over the whole runMapJob call.
//
//   node bench/cases/throughput.mjs ITEMS REPS
import { availableParallelism } from 'node:os'
import { runMapJob } from '../lib/longhaul.mjs'
import { emit, jobPath, median, round, say, scratch } from '../lib/report.mjs'

const [items, reps] = process.argv.slice(2).map(Number)
const TARGET = 1_000_000
const workers = availableParallelism()

const runs = []
for (let rep = 0; rep < reps; rep++) {
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
      },
    },
  })
  const ms = performance.now() - started
  if (summary.state !== 'complete' || summary.committed !== items)
    throw new Error(`the run ended ${summary.state} with ${summary.committed} of ${items}`)
  const used = process.cpuUsage(cpu)
  const usedAfterFirstCommit = process.cpuUsage(firstCommit.cpu)
  runs.push({
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
const perSecond = median(runs.map((run) => run.perSecond))
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
  cpuUsPerItem: round(median(runs.map((run) => run.cpuUsPerItem)), 2),
  cpuUsPerItemAfterFirstCommit: round(median(runs.map((run) => run.cpuUsPerItemAfterFirstCommit)), 2),
  target: `itemsPerSecond >= ${TARGET}`,
  pass: perSecond >= TARGET,
})
