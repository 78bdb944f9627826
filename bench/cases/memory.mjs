// Peak memory: JOB (default trivial.ts) at SMALL and at LARGE items, each in a
// process of its own, one worker per core. Peak RSS is
// process.resourceUsage().maxRSS, which covers the worker threads too. A
// Python job's workers are processes: their peaks (VmHWM, jobs/processes.mjs)
// are reported beside the coordinator's, as `python-memory`.
//
//   node bench/cases/memory.mjs SMALL LARGE [JOB]
//   node bench/cases/memory.mjs measure ITEMS JOB     (one run; used by the above)
import { availableParallelism } from 'node:os'
import { fileURLToPath } from 'node:url'
import { runScript } from '../lib/child.mjs'
import { watchChildrenPeakRss } from '../lib/processes.mjs'
import { emit, jobPath, loadAverage, round, say, scratch } from '../lib/report.mjs'

const TARGET = 1.1
const workers = availableParallelism()

if (process.argv[2] === 'measure') await measureOne(Number(process.argv[3]), process.argv[4])
else await main(Number(process.argv[2]), Number(process.argv[3]), process.argv[4])

async function main(small, large, jobName = 'trivial.ts') {
  const python = jobName.endsWith('.py')
  const loadBefore = loadAverage()
  const peak = {}
  for (const items of [small, large]) {
    const [run] = await runScript(fileURLToPath(import.meta.url), ['measure', String(items), jobPath(jobName)])
    peak[items] = run
    say(
      `memory ${jobName} ${items} items: peak RSS ${(run.maxRssKiB / 1024).toFixed(0)} MiB${python ? `, Python workers ${run.workerPeaksKiB.map((kib) => (kib / 1024).toFixed(0)).join(' / ')} MiB` : ''} (${run.wallMs.toFixed(0)} ms)`,
    )
  }
  const mib = (kib) => round(kib / 1024, 1)
  const ratio = peak[large].maxRssKiB / peak[small].maxRssKiB
  if (!python) {
    emit('memory', {
      workers,
      smallItems: small,
      largeItems: large,
      smallPeakRssMiB: mib(peak[small].maxRssKiB),
      largePeakRssMiB: mib(peak[large].maxRssKiB),
      ratio: round(ratio),
      // The process before the run: node, tsx and longhaul loaded.
      loadedRssMiB: mib(peak[small].rssBeforeKiB),
      target: `ratio <= ${TARGET}`,
      pass: ratio <= TARGET,
    })
    return
  }
  // The largest worker at each size: the workers do the same work, and the largest is what a machine must hold.
  const worker = (run) => run.workerPeaksKiB[0]
  const workerRatio = worker(peak[large]) / worker(peak[small])
  emit('python-memory', {
    job: jobName,
    workers,
    smallItems: small,
    largeItems: large,
    coordinator: {
      smallPeakRssMiB: mib(peak[small].maxRssKiB),
      largePeakRssMiB: mib(peak[large].maxRssKiB),
      ratio: round(ratio),
      loadedRssMiB: mib(peak[small].rssBeforeKiB),
    },
    pythonWorker: {
      smallPeakRssMiB: peak[small].workerPeaksKiB.map(mib),
      largePeakRssMiB: peak[large].workerPeaksKiB.map(mib),
      ratio: round(workerRatio),
    },
    wallMs: { small: round(peak[small].wallMs, 0), large: round(peak[large].wallMs, 0) },
    loadAverage: { before: loadBefore, after: loadAverage() },
    target: `ratio <= ${TARGET} (coordinator and largest Python worker)`,
    pass: ratio <= TARGET && workerRatio <= TARGET,
  })
}

async function measureOne(items, job) {
  const { runMapJob } = await import('../lib/longhaul.mjs')
  const rssBeforeKiB = process.memoryUsage().rss / 1024
  const children = watchChildrenPeakRss()
  const started = performance.now()
  const summary = await runMapJob({
    jobPath: job,
    outDir: scratch(`memory-${items}`),
    total: items,
    workers,
    // A reading at each commit too, besides the timer's: the last one comes while the workers still live.
    observer: { committed: () => children.poll() },
  })
  const wallMs = performance.now() - started
  if (summary.state !== 'complete') throw new Error(`the run ended ${summary.state}`)
  // The describe process is a child too, and far smaller: keep the workers (one per core, the largest).
  const workerPeaksKiB = children.stop().slice(0, workers)
  process.stdout.write(
    `${JSON.stringify({ items, maxRssKiB: process.resourceUsage().maxRSS, rssBeforeKiB, workerPeaksKiB, wallMs })}\n`,
  )
}
