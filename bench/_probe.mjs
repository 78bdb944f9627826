import { register } from 'tsx/esm/api'
register()
const { runMapJob } = await import('/work/main/src/index.ts')
const t0 = performance.now()
const s = await runMapJob({ jobPath: '/work/main/bench/jobs/trivial.ts', outDir: '/tmp/probe-run', total: Number(process.argv[2]), workers: 2, fresh: true,
  observer: { committed: (p) => process.stderr.write(`${(performance.now()-t0).toFixed(0)} ${p.committed}\n`) } })
console.log(JSON.stringify({ ...s, ms: performance.now() - t0, rss: process.resourceUsage().maxRSS }))
