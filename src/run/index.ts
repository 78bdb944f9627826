export { hasRun, runPaths } from '../files/runDir.ts'
export { type DoctorReport, doctorRun } from '../inspect/doctor.ts'
export { type VerifyReport, verifyRun } from '../inspect/verify.ts'
export { isBucketUrl } from '../shards/bucket.ts'
export { type LoopRunOptions, type LoopRunSummary, runLoopJob } from '../work/loop/runLoopJob.ts'
export { type RunOptions, type RunSummary, runMapJob } from '../work/map/runMapJob.ts'
export {
  type IdentifiedJob,
  type IdentifiedLoop,
  identifyJob,
  identifyLoop,
  type LaunchFacts,
  type LaunchGate,
} from './identify.ts'
export type { RunObserver, RunProgress, RunStart } from './observer.ts'
export { interruptOnSignals } from './signals.ts'
