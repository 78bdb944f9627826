import { runMapJob } from './lib/longhaul.mjs'
const s = await runMapJob({ jobPath: 'bench/jobs/trivial.ts', outDir: '/tmp/lhb/orig', total: 1000000, workers: 2, fresh: true })
console.log(s.wallMs)
