/**
 * What a run reports about itself: progress.json is this object, PROGRESS.txt
 * its rendering for people (DESIGN §2). Times are ISO 8601 UTC.
 */
export type ProgressState = 'running' | 'complete' | 'failed' | 'stalled' | 'interrupted'

/** What the launch gate decided for this session (invariant gate); shown in progress.json and status. */
export type LaunchClearance =
  /** A passing proof covers this run. */
  | {
      readonly status: 'proved'
      readonly proof: string
      readonly target: number
      readonly expiresAt: string
      readonly policy: string
    }
  /** The owner ran it without a proof (--skip-preflight). */
  | { readonly status: 'waived'; readonly reason: string; readonly policy: string }
  /** The run is at or below the policy's scale for proofs. */
  | { readonly status: 'not-required'; readonly limit: number; readonly policy: string }

/** Amounts by named counter, as items report them with `ctx.usage`: `{ tokens: 812, usd: 0.0012 }`. */
export type Usage = Readonly<Record<string, number>>

/** What progress.json says about the rate limit. */
export interface RateLimitShown {
  /** The limit in words (`600 requests/min`), this process's share of it in a shared run; null when the run has none. */
  readonly limit: string | null
  /** Seconds items spent waiting for the limit or a service's Retry-After, this session, added up over items. */
  readonly waitingSeconds: number
  /** Answers that said "rate limited" (HTTP 429, RateLimitedError), this session. */
  readonly rateLimitedAnswers: number
}

export interface ProgressSnapshot {
  readonly job: string
  readonly runId: string
  readonly state: ProgressState
  /** Items committed (durable); for a supervised program (exec), where it last said it was. */
  readonly done: number
  /** Null when unknown: a supervised program that does not say how much there is. */
  readonly total: number | null
  readonly percent: number | null
  /** What is counted, when not items (a supervised program's own unit: epoch, it, B…). */
  readonly unit?: string
  /** Items finished by the workers but not yet committed. */
  readonly inFlight: number
  readonly itemsPerSecond: number | null
  readonly etaSeconds: number | null
  readonly etaLow: number | null
  readonly etaHigh: number | null
  /** Why the ETA is unknown, when it is. */
  readonly etaUnknownBecause: string | null
  readonly startedAt: string
  readonly updatedAt: string
  readonly heartbeatAt: string
  readonly lastCheckpointAt: string | null
  /** Commits made by this session. */
  readonly checkpoints: number
  readonly workers: number
  /** Items in flight at once over the workers, when more than one each (`concurrency`); absent: one per worker. */
  readonly concurrency?: number
  readonly elapsedSeconds: number
  /** How long nothing has finished, when stalled. */
  readonly stalledForSeconds: number | null
  /** Seconds of no progress after which the run is reported stalled. */
  readonly stallAfterSeconds: number
  /** How often this file is refreshed while the run lives. */
  readonly refreshSeconds: number
  /** How often the heartbeat moves while the run lives. */
  readonly heartbeatSeconds: number
  readonly owner: { readonly pid: number; readonly host: string }
  /** Items' time spent waiting on a rate limit, summed over the items waiting at once; present when the run has a limit or a service said "rate limited". */
  readonly rateLimit?: RateLimitShown
  /** What the committed items reported with `ctx.usage`, by counter (`{ tokens: 812000, usd: 1.2 }`); present once any did. */
  readonly usage?: Usage
  /** `usage` over the items committed. */
  readonly usagePerItem?: Usage
  /** What this session's commits used, per second of the session. */
  readonly usagePerSecond?: Usage
  /** Reported by attempts that then threw (retried, rate limited), of committed ranges: paid, and not in `usage`. */
  readonly usageOnFailedAttempts?: Usage
  /** The launch gate's decision for this session; null when no gate was asked (a run started from code). */
  readonly gate: LaunchClearance | null
  /** The failure that ended the run, when it failed. */
  readonly error: string | null
}
