import type * as Verify from './inspect/verify.ts'
import type * as Preflight from './preflight/preflight.ts'
import type * as RunLoop from './work/loop/runLoopJob.ts'
import type * as RunMap from './work/map/runMapJob.ts'

export * from './errors.ts'
export type { VerifyReport } from './inspect/verifyReport.ts'
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
export { defineConfig } from './preflight/defineConfig.ts'
export type { PreflightOptions } from './preflight/options.ts'
export type { Policy, PolicyInput } from './preflight/policy.ts'
export type { PreflightResult } from './preflight/preflight.ts'
export type { RunObserver } from './run/observer.ts'
export type { RunSummary } from './run/summary.ts'
export type { ProgressSnapshot, ProgressState } from './telemetry/snapshot.ts'
export type { LoopRunOptions, LoopRunSummary } from './work/loop/runLoopJob.ts'
export type { RunOptions } from './work/map/runMapJob.ts'

// The runners, preflight and verify are loaded when first called, not when a job file imports `longhaul`: a job
// needs only what it declares itself with, and every process that runs one imports it at start-up.

/** Runs or resumes a map job until every item is committed (see work/map/runMapJob.ts). */
export const runMapJob: typeof RunMap.runMapJob = async (options) =>
  (await import('./work/map/runMapJob.ts')).runMapJob(options)

/** Runs or resumes a loop job (see work/loop/runLoopJob.ts). */
export const runLoopJob: typeof RunLoop.runLoopJob = async (options) =>
  (await import('./work/loop/runLoopJob.ts')).runLoopJob(options)

/** Checks a run's committed output against its journal (see inspect/verify.ts). */
export const verifyRun: typeof Verify.verifyRun = async (dir, options) =>
  (await import('./inspect/verify.ts')).verifyRun(dir, options)

/** Rehearses a job and writes its proof (see preflight/preflight.ts). */
export const preflight: typeof Preflight.preflight = async (options) =>
  (await import('./preflight/preflight.ts')).preflight(options)
