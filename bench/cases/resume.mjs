// Resume: a run of ITEMS items of JOB (default trivial.ts) is completed once;
// then, `reps` times, a copy of it, flushed to disk, is resumed with --total
// ITEMS+100 in a new process, timing from the call to runMapJob to (a) the first new item made
// (in a worker thread, jobs/announce.ts; in a Python worker process, the time
// it appends to BENCH_ANNOUNCE_FILE, jobs/pytrivial.py) and (b) the first new
// item committed (observer.committed), and the same from the start of the
// process. A Python job reports as `python-resume`; when `python3` on PATH is
// not the interpreter itself (a version manager's shim, as pyenv's), the
// resumes are made again with the interpreter's folder first on PATH (as an
// activated virtual environment has it), and reported beside.
//
//   node bench/cases/resume.mjs ITEMS REPS [JOB [TARGET_MS]]
//   node bench/cases/resume.mjs measure DIR ITEMS JOB     (one resume; used by the above)
import { execFileSync } from 'node:child_process'
import { cpSync, realpathSync, rmSync } from 'node:fs'
import { availableParallelism } from 'node:os'
import { delimiter, dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { runScript } from '../lib/child.mjs'
import { flushed } from '../lib/flushed.mjs'
import { emit, jobPath, loadAverage, median, round, say, scratch, watchItemsMade } from '../lib/report.mjs'

const NEW_ITEMS = 100
const workers = availableParallelism()

if (process.argv[2] === 'measure') await measureOne(process.argv[3], Number(process.argv[4]), process.argv[5])
else await main(Number(process.argv[2]), Number(process.argv[3]), process.argv[4], process.argv[5])

async function main(items, reps, jobName = 'trivial.ts', targetArg = '250') {
  const job = jobPath(jobName)
  const targetMs = Number(targetArg)
  const python = job.endsWith('.py')
  const { runMapJob } = await import('../lib/longhaul.mjs')
  const loadBefore = loadAverage()
  const original = scratch(`resume-original-${jobName}`)
  const setup = await runMapJob({ jobPath: job, outDir: original, total: items, workers })
  if (setup.state !== 'complete') throw new Error(`the first run ended ${setup.state}`)
  say(`resume ${jobName}: ${items} items committed in ${setup.wallMs} ms`)

  const resumes = async (env, how) => {
    const runs = []
    for (let rep = 0; rep < reps; rep++) {
      const copy = scratch(`resume-copy-${jobName}`)
      cpSync(original, copy, { recursive: true })
      flushed(copy)
      const [run] = await runScript(fileURLToPath(import.meta.url), ['measure', copy, String(items), job], {
        env: {
          ...env,
          BENCH_ANNOUNCE_FROM: String(items),
          BENCH_ANNOUNCE_FILE: join(copy, '..', `announced-${jobName}.txt`),
        },
      })
      runs.push(run)
      say(
        `resume ${jobName}${how}: first new item made ${run.firstMadeMs?.toFixed(0)} ms, committed ${run.firstCommitMs.toFixed(0)} ms after the call (${run.processToFirstCommitMs.toFixed(0)} ms after the process started)`,
      )
    }
    return runs
  }
  const runs = await resumes({}, '')
  const interpreter = python ? interpreterFolder() : undefined
  const direct = interpreter
    ? await resumes({ PATH: `${interpreter}${delimiter}${process.env.PATH}` }, `, ${interpreter} first on PATH`)
    : undefined
  rmSync(original, { recursive: true, force: true })
  const firstCommitMs = median(runs.map((run) => run.firstCommitMs))
  emit(python ? 'python-resume' : 'resume', {
    job: jobName,
    committedBefore: items,
    setupMs: setup.wallMs,
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
    // CPU time from the call to the first commit: the work that start-up takes, whatever else the machine is doing.
    // This process (all its threads), and for a Python job its Python processes too (read from /proc at that moment).
    cpuMsToFirstCommit: round(median(runs.map((run) => run.cpuMsToFirstCommit)), 1),
    ...(python && { pythonCpuMsToFirstCommit: round(median(runs.map((run) => run.pythonCpuMsToFirstCommit)), 1) }),
    resumeWallMs: round(median(runs.map((run) => run.wallMs)), 1),
    ...(direct && {
      interpreterFirstOnPath: {
        path: interpreter,
        firstItemMadeMs: round(median(direct.map((run) => run.firstMadeMs)), 1),
        firstItemCommittedMs: round(median(direct.map((run) => run.firstCommitMs)), 1),
        openMs: round(median(direct.map((run) => run.startedMs)), 1),
        runs: direct.map((run) => ({ made: round(run.firstMadeMs, 1), committed: round(run.firstCommitMs, 1) })),
        cpuMsToFirstCommit: round(median(direct.map((run) => run.cpuMsToFirstCommit)), 1),
        pythonCpuMsToFirstCommit: round(median(direct.map((run) => run.pythonCpuMsToFirstCommit)), 1),
      },
    }),
    loadAverage: { before: loadBefore, after: loadAverage() },
    target: `firstItemCommittedMs <= ${targetMs}`,
    pass: firstCommitMs <= targetMs,
  })
}

/** The folder of the interpreter `python3` on PATH runs, when that `python3` is not a link to it (a shim); else undefined. */
function interpreterFolder() {
  const executable = execFileSync('python3', ['-c', 'import sys; print(sys.executable)'], { encoding: 'utf8' }).trim()
  const onPath = execFileSync('sh', ['-c', 'command -v python3'], { encoding: 'utf8' }).trim()
  return realpathSync(onPath) === realpathSync(executable) ? undefined : dirname(executable)
}

async function measureOne(dir, items, job) {
  const importStarted = performance.now()
  const { runMapJob } = await import('../lib/longhaul.mjs')
  const { childrenCpuMs } = await import('../lib/processes.mjs')
  const importMs = performance.now() - importStarted

  const cpu = process.cpuUsage()
  const started = performance.now()
  const made = watchItemsMade(started)
  let startedAt
  let firstCommit
  let cpuToFirstCommit
  let pythonCpuToFirstCommit
  const summary = await runMapJob({
    jobPath: job,
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
        pythonCpuToFirstCommit = childrenCpuMs()
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
    pythonCpuMsToFirstCommit: pythonCpuToFirstCommit,
    wallMs,
  }
  process.stdout.write(`${JSON.stringify(figures)}\n`)
}
