export { runMapJob, type RunOptions, type RunSummary } from './runMapJob.ts'
export { verifyRun, type VerifyReport } from './verify.ts'
export { interruptOnSignals } from './signals.ts'
export type { RunObserver, RunProgress, RunStart } from './observer.ts'
