import type { DiskProbe } from './estimates.ts'

/** What a preflight is asked to prove, and how. */
export interface PreflightOptions {
  readonly jobPath: string
  /** The production-scale total the proof is for. */
  readonly target: number
  /** The run directory the proof is for; the proof goes to its proofs/. @default runs/<job name> */
  readonly outDir?: string
  readonly seed?: number
  readonly params?: Readonly<Record<string, unknown>>
  /** The policy file. @default the nearest longhaul.config.ts above the job */
  readonly config?: string
  /** Items in flight per process in every child run (`run --concurrency`), and in the run command it proves. @default the job's */
  readonly concurrency?: number
  /** Caps the rehearsal's time, seconds; its fraction of the target is scaled down to fit. */
  readonly rehearsalBudgetSeconds?: number
  /** Free space where the output goes. @default statfs */
  readonly diskProbe?: DiskProbe
  /** Ctrl-C: the running child is stopped, the scratch folder removed, and this rejects with an InterruptedError. */
  readonly signal?: AbortSignal
  /** A line for each step, while it runs. */
  readonly onStep?: (message: string) => void
  readonly now?: () => number
}
