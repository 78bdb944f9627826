import { register } from 'tsx/esm/api'
register()
const { runMapJob } = await import('longhaul')
for (const w of [1, 2]) {
  const s = await runMapJob({ jobPath: 'examples/trajectories/job.ts', outDir: '/tmp/lhb/traj' + w, total: 600, workers: w, fresh: true })
  console.log(w, s.wallMs, s.itemsPerSecond, s.bytesWritten, process.resourceUsage().maxRSS)
}
