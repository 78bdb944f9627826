// Peak memory: the trivial job at SMALL and at LARGE items, each in a process
// of its own, one worker per core. Peak RSS is process.resourceUsage().maxRSS,
// which covers the worker threads too.
//
//   node bench/cases/memory.mjs SMALL LARGE
//   node bench/cases/memory.mjs measure ITEMS     (one run; used by the above)
import { availableParallelism } from 'node:os'
import { fileURLToPath } from 'node:url'
import { runScript } from '../lib/child.mjs'
import { emit, jobPath, round, say, scratch } from '../lib/report.mjs'

const TARGET = 1.1
const workers = availableParallelism()

if (process.argv[2] === 'measure') await measureOne(Number(process.argv[3]))
else await main(Number(process.argv[2]), Number(process.argv[3]))

async function main(small, large) {
  const peak = {}
  for (const items of [small, large]) {
    const [run] = await runScript(fileURLToPath(import.meta.url), ['measure', String(items)])
    peak[items] = run
    say(`memory ${items} items: peak RSS ${(run.maxRssKiB / 1024).toFixed(0)} MiB`)
  }
  const ratio = peak[large].maxRssKiB / peak[small].maxRssKiB
  emit('memory', {
    workers,
    smallItems: small,
    largeItems: large,
    smallPeakRssMiB: round(peak[small].maxRssKiB / 1024, 1),
    largePeakRssMiB: round(peak[large].maxRssKiB / 1024, 1),
    ratio: round(ratio),
    // The process before the run: node, tsx and longhaul loaded.
    loadedRssMiB: round(peak[small].rssBeforeKiB / 1024, 1),
    target: `ratio <= ${TARGET}`,
    pass: ratio <= TARGET,
  })
}

async function measureOne(items) {
  const { runMapJob } = await import('../lib/longhaul.mjs')
  const rssBeforeKiB = process.memoryUsage().rss / 1024
  const summary = await runMapJob({
    jobPath: jobPath('trivial.ts'),
    outDir: scratch(`memory-${items}`),
    total: items,
    workers,
  })
  if (summary.state !== 'complete') throw new Error(`the run ended ${summary.state}`)
  process.stdout.write(`${JSON.stringify({ items, maxRssKiB: process.resourceUsage().maxRSS, rssBeforeKiB })}\n`)
}
