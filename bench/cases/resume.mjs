// Resume: a run of ITEMS trivial items is completed once; then, `reps` times,
// a copy of it is resumed with --total ITEMS+100 in a new process, timing from
// the call to runMapJob to (a) the first new item made in a worker thread and
// (b) the first new item committed (observer.committed).
//
//   node bench/cases/resume.mjs ITEMS REPS
//   node bench/cases/resume.mjs measure DIR ITEMS     (one resume; used by the above)
import { cpSync, rmSync } from 'node:fs'
import { availableParallelism } from 'node:os'
import { fileURLToPath } from 'node:url'
import { runScript } from '../lib/child.mjs'
import { emit, jobPath, median, round, say, scratch, watchItemsMade } from '../lib/report.mjs'

const JOB = jobPath('trivial.ts')
const NEW_ITEMS = 100
const TARGET_MS = 250
const workers = availableParallelism()

if (process.argv[2] === 'measure') await measureOne(process.argv[3], Number(process.argv[4]))
else await main(Number(process.argv[2]), Number(process.argv[3]))

async function main(items, reps) {
  const { runMapJob } = await import('../lib/longhaul.mjs')
  const original = scratch('resume-original')
  const setup = await runMapJob({ jobPath: JOB, outDir: original, total: items, workers })
  if (setup.state !== 'complete') throw new Error(`the first run ended ${setup.state}`)
  say(`resume: ${items} items committed in ${setup.wallMs} ms`)

  const runs = []
  for (let rep = 0; rep < reps; rep++) {
    const copy = scratch('resume-copy')
    cpSync(original, copy, { recursive: true })
    const [run] = await runScript(fileURLToPath(import.meta.url), ['measure', copy, String(items)], {
      env: { BENCH_ANNOUNCE_FROM: String(items) },
    })
    runs.push(run)
    say(
      `resume: first new item made ${run.firstMadeMs.toFixed(0)} ms, committed ${run.firstCommitMs.toFixed(0)} ms after the call`,
    )
  }
  rmSync(original, { recursive: true, force: true })
  const firstCommitMs = median(runs.map((run) => run.firstCommitMs))
  emit('resume', {
    committedBefore: items,
    newItems: NEW_ITEMS,
    workers,
    reps,
    firstItemMadeMs: round(median(runs.map((run) => run.firstMadeMs)), 1),
    firstItemCommittedMs: round(firstCommitMs, 1),
    // Of which: opening the run (job load, fingerprint, journal, owner lease, data folder check) up to observer.started.
    openMs: round(median(runs.map((run) => run.startedMs)), 1),
    runs: runs.map((run) => ({ made: round(run.firstMadeMs, 1), committed: round(run.firstCommitMs, 1) })),
    // The same, counted from the start of the process (node start-up and importing longhaul included).
    firstItemCommittedFromProcessStartMs: round(median(runs.map((run) => run.processToFirstCommitMs)), 1),
    importLonghaulMs: round(median(runs.map((run) => run.importMs)), 1),
    // CPU time of all threads from the call to the first commit: the work that start-up takes, whatever else the machine is doing.
    cpuMsToFirstCommit: round(median(runs.map((run) => run.cpuMsToFirstCommit)), 1),
    resumeWallMs: round(median(runs.map((run) => run.wallMs)), 1),
    target: `firstItemCommittedMs <= ${TARGET_MS}`,
    pass: firstCommitMs <= TARGET_MS,
  })
}

async function measureOne(dir, items) {
  const importStarted = performance.now()
  const { runMapJob } = await import('../lib/longhaul.mjs')
  const importMs = performance.now() - importStarted

  const cpu = process.cpuUsage()
  const started = performance.now()
  const made = watchItemsMade(started)
  let startedAt
  let firstCommit
  let cpuToFirstCommit
  const summary = await runMapJob({
    jobPath: JOB,
    outDir: dir,
    total: items + NEW_ITEMS,
    workers,
    observer: {
      started: () => {
        startedAt = performance.now()
      },
      committed: () => {
        if (firstCommit !== undefined) return
        firstCommit = performance.now()
        cpuToFirstCommit = process.cpuUsage(cpu)
      },
    },
  })
  const wallMs = performance.now() - started
  if (!summary.resumed || summary.state !== 'complete' || summary.committedThisSession !== NEW_ITEMS) {
    throw new Error(
      `the resume ended ${summary.state}, resumed ${summary.resumed}, ${summary.committedThisSession} new items`,
    )
  }
  const firstMadeMs = await made.firstMadeMs()
  rmSync(dir, { recursive: true, force: true })
  const figures = {
    importMs,
    startedMs: startedAt - started,
    firstMadeMs,
    firstCommitMs: firstCommit - started,
    processToFirstCommitMs: firstCommit,
    cpuMsToFirstCommit: (cpuToFirstCommit.user + cpuToFirstCommit.system) / 1000,
    wallMs,
  }
  process.stdout.write(`${JSON.stringify(figures)}\n`)
}
