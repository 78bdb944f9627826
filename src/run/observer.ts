import type { ProgressSnapshot } from '../telemetry/snapshot.ts'

/**
 * What a run tells whoever watches it. The CLI renders it; the telemetry
 * writers (progress files, dashboard) hang off the same seam.
 */
export interface RunStart {
  readonly job: string
  readonly runId: string
  readonly dir: string
  readonly total: number
  /** Items already committed when this session started. */
  readonly committed: number
  readonly resumed: boolean
  readonly workers: number
  /** Items in flight at once in the process, when more than one per worker thread. */
  readonly concurrency?: number
  readonly seed: number
  /** Where --fresh moved a previous run, if it did. */
  readonly movedAsideTo?: string
  /** What `total` counts, when not items (a loop: steps). */
  readonly unit?: string
}

export interface RunProgress {
  readonly total: number
  /** Items committed, including earlier sessions. */
  readonly committed: number
  /** Items committed by this session. */
  readonly committedThisSession: number
  readonly elapsedMs: number
  readonly lastCommitAt: number
}

export interface RunObserver {
  /**
   * A fresh snapshot, as just written to progress.json: on every refresh
   * interval ('tick'), commit ('commit'), heartbeat ('heartbeat') and change
   * of state ('state').
   */
  progress?(snapshot: ProgressSnapshot, reason: 'tick' | 'commit' | 'state' | 'heartbeat'): void
  started?(start: RunStart): void
  committed?(progress: RunProgress): void
  /** Something worth a line of its own: a takeover, a recomputed shard, a fallback. */
  note?(message: string): void
}
