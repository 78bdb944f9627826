export { isBucketUrl } from './bucket.ts'
export { type DoctorReport, doctorRun } from './doctor.ts'
export {
  type IdentifiedJob,
  type IdentifiedLoop,
  identifyJob,
  identifyLoop,
  type LaunchFacts,
  type LaunchGate,
} from './identify.ts'
export { type LoopRunOptions, type LoopRunSummary, runLoopJob } from './loop/runLoopJob.ts'
export type { RunObserver, RunProgress, RunStart } from './observer.ts'
export { hasRun, runPaths } from './runDir.ts'
export { type RunOptions, type RunSummary, runMapJob } from './runMapJob.ts'
export { interruptOnSignals } from './signals.ts'
export { type VerifyReport, verifyRun } from './verify.ts'
