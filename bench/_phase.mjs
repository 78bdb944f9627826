import { register } from 'tsx/esm/api'
register()
const t00 = performance.now()
const { runMapJob } = await import('longhaul')
const tImport = performance.now() - t00
const ch = new BroadcastChannel('longhaul-bench')
let firstMade
ch.onmessage = (e) => { firstMade ??= e.data.at - performance.timeOrigin }
process.env.BENCH_ANNOUNCE_FROM = '0'
const t0 = performance.now()
let started, first
const s = await runMapJob({ jobPath: 'bench/jobs/trivial.ts', outDir: '/tmp/lhb/phase', total: 10, workers: 1, fresh: true,
  observer: { started: () => { started = performance.now() - t0 }, committed: () => { first ??= performance.now() - t0 } } })
ch.close()
console.log({ tImport, started, firstMade: firstMade - t0, first, wall: performance.now() - t0, sinceProcessStart: performance.now() })
