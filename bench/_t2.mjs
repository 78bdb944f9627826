import { register } from 'tsx/esm/api'
register()
const { runMapJob } = await import('longhaul')
const w = Number(process.argv[2]), n = Number(process.argv[3])
const t0 = performance.now()
const s = await runMapJob({ jobPath: 'examples/trajectories/job.ts', outDir: '/tmp/lhb/traj' + w, total: n, workers: w, fresh: true,
 observer: { committed: (p) => process.stderr.write(`${(performance.now()-t0).toFixed(0)}:${p.committed} `) } })
console.log('\n', w, s.wallMs, s.itemsPerSecond, process.resourceUsage())
