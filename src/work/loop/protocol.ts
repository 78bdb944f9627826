import type { WrittenFile } from '../../files/atomicFile.ts'
import type { CheckpointInfo } from './checkpoints.ts'

/** The loop's thread's workerData: it loads the job at once, then waits for its LoopSetup. */
export interface LoopThreadData {
  readonly jobPath: string
}

/** Sent to the loop's thread once the run is open and its checkpoint found. */
export interface LoopSetup {
  readonly job: string
  readonly fingerprint: string
  readonly params: unknown
  readonly seed: number
  /** Steps 0 … steps-1. */
  readonly steps: number
  /** Steps already done: the step the payload's state is at, 0 to start from init. */
  readonly startStep: number
  /** The state to resume from, as save() wrote it (transferred, not copied); undefined to start from init. */
  readonly payload: Uint8Array<ArrayBuffer> | undefined
  /** Where checkpoints and final.bin go. */
  readonly dir: string
  readonly checkpointSteps: number | undefined
  readonly checkpointMs: number
  /** Int32Array[1]: one of STOP. */
  readonly stop: SharedArrayBuffer
  /** Int32Array[1]: the thread adds 1 per step it finishes (for rate, ETA and stalls). */
  readonly finished: SharedArrayBuffer
}

/** The values of the stop flag. */
export const STOP = {
  /** Keep stepping. */
  no: 0,
  /** Ctrl-C: finish the step in progress, write a checkpoint, and stop. */
  checkpoint: 1,
  /** The run failed or lost its lease: stop after the step in progress and write nothing more. */
  abandon: 2,
} as const

/** Why the loop's thread stopped the run. */
export interface LoopFailure {
  /** job: the job's own code threw; durability: a write failed; load: the job could not be loaded in the thread. */
  readonly kind: 'job' | 'durability' | 'load'
  /** What was running: `step 41`, `init`, `save(state) at step 60`… */
  readonly where: string
  readonly message: string
  readonly stack?: string
}

/** What the loop's thread tells the coordinating thread. */
export type LoopMessage =
  /** A checkpoint is durable (written, fsynced, renamed, folder fsynced). */
  | { readonly type: 'checkpoint'; readonly checkpoint: CheckpointInfo; readonly slowestStepMs: number }
  /** Every step is done, the last checkpoint and final.bin are durable. */
  | {
      readonly type: 'complete'
      readonly step: number
      readonly final: WrittenFile
      readonly slowestStepMs: number
      readonly retainedBytes: number | null
    }
  /** Stopped as asked, after its last checkpoint (none when abandoning). */
  | { readonly type: 'stopped'; readonly step: number; readonly slowestStepMs: number }
  | { readonly type: 'failed'; readonly failure: LoopFailure }
