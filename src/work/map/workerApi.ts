/**
 * What a job's `import … from 'longhaul'` is inside a worker thread's bundle (workerBundle.ts): the public API, but
 * with a defineJob that checks nothing. The coordinator has loaded the same code (the bundle is built from the very
 * sources the run's fingerprint hashes) and checked its options, and it hands each thread the resolved params, seed
 * and retries; a thread uses only the job's item, input and output. So a thread does not load zod to check them again,
 * which costs each thread about a tenth of a second of CPU as it starts (a job that imports zod itself still loads it).
 */
import type * as Define from '../../job/defineJob.ts'
import { JOB_BRAND } from '../../job/jobBrand.ts'

export * from '../../index.ts'

/** The options as the job wrote them, marked as a map job: see above. */
export const defineJob = ((options: object) => ({ ...options, [JOB_BRAND]: 'map' })) as typeof Define.defineJob
