// Runs one job in this process and prints {"maxRssKiB": …} (worker threads included) when it ends.
// Usage: node test/support/peakRss.mjs JOB OUT TOTAL WORKERS
import { register } from 'tsx/esm/api'

register()
const { runMapJob } = await import('../../src/index.ts')
const [jobPath, outDir, total, workers] = process.argv.slice(2)
const summary = await runMapJob({ jobPath, outDir, total: Number(total), workers: Number(workers) })
console.log(
  JSON.stringify({
    maxRssKiB: process.resourceUsage().maxRSS,
    itemsPerSecond: summary.itemsPerSecond,
    wallMs: summary.wallMs,
  }),
)
