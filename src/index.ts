export * from './errors.ts'
export {
  defineJob,
  type GeneratorJobOptions,
  type InputJobOptions,
  type ItemContext,
  type MapJob,
} from './job/defineJob.ts'
export {
  defineLoop,
  type LoopBest,
  type LoopCheckpointEvery,
  type LoopContext,
  type LoopJob,
  type LoopOptions,
} from './job/defineLoop.ts'
export { csvInput } from './job/inputs/csvInput.ts'
export { type FileRecord, filesInput } from './job/inputs/filesInput.ts'
export type { InputSource } from './job/inputs/input.ts'
export { jsonlInput } from './job/inputs/jsonlInput.ts'
export type { OutputFormat } from './job/outputs/format.ts'
export { jsonl } from './job/outputs/jsonl.ts'
export { type NpyDtype, npy, type Tensor, tensor } from './job/outputs/npy.ts'
export type { Rng } from './job/rng.ts'
export type { PreflightOptions } from './preflight/options.ts'
export { defineConfig, type Policy, type PolicyInput } from './preflight/policy.ts'
export { type PreflightResult, preflight } from './preflight/preflight.ts'
export {
  type LoopRunOptions,
  type LoopRunSummary,
  type RunObserver,
  type RunOptions,
  type RunSummary,
  runLoopJob,
  runMapJob,
  type VerifyReport,
  verifyRun,
} from './runner/index.ts'
export type { ProgressSnapshot, ProgressState } from './telemetry/snapshot.ts'
