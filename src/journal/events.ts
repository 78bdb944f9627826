/**
 * The event log's vocabulary: every event longhaul writes, by type, with what
 * its detail holds. Writing an event of another type, or with another
 * detail, does not compile. The log tells what happened to a run; what the
 * run is (its kind, state and total, where its shards go, a loop's digest, its
 * owner) is in the journal's own columns, and nothing decides from the log.
 */

/** A session began: the owner's `started`/`resumed`, or a worker that `joined` a shared run. */
export interface SessionEvent {
  readonly pid: number
  /** Items (or steps) committed before the session; absent for a supervised program. */
  readonly committed?: number
  readonly total?: number
  readonly workers?: number
  /** Items in flight at once in the process, when more than one per worker thread. */
  readonly concurrency?: number
  /** A supervised program's command line and how many restarts it may have (`longhaul exec`). */
  readonly command?: readonly string[]
  readonly restarts?: number
  readonly [more: string]: unknown
}

/** A map run's committed range, logged by the store with the commit; a loop's saved checkpoint; a supervised program's checkpoint found. */
export type CheckpointEvent =
  /** `worker`: the name the committing process held the range's claim by (`local`, `host:pid`); absent in older journals. */
  | { readonly start: number; readonly end: number; readonly worker?: string }
  | {
      readonly step: number
      readonly file: string
      readonly bytes: number
      readonly sha256: string
      readonly payloadSha256: string
      readonly metrics: unknown
    }
  /** `done`: where the program said it was when it announced it (null: not known); absent in older journals. */
  | { readonly path: string; readonly step: number | null; readonly source: string; readonly done?: number | null }

/** How a run (or a supervised program's run) ended. */
export interface EndEvent {
  readonly committed?: number
  readonly forced?: boolean
  readonly error?: string
  /** The item that failed the run, its attempts and the job's own stack trace, when an item did. */
  readonly item?: number
  readonly attempts?: number
  readonly stack?: string
  /** A supervised program's run: what longhaul and the program exited with, and how many times it ran. */
  readonly exitCode?: number
  readonly programExitCode?: number | null
  readonly lives?: number
}

/** What each type of event says. */
export interface RunEventDetails {
  readonly started: SessionEvent
  readonly resumed: SessionEvent
  readonly joined: SessionEvent
  /** A process of a shared run stopped taking work and gave its claims back. */
  readonly left: { readonly worker: string; readonly committed?: number; readonly forced?: boolean }
  readonly interrupted: EndEvent
  readonly complete: EndEvent & { readonly digest?: string | null; readonly file?: string; readonly bytes?: number }
  readonly failed: EndEvent
  /** One process of a shared run failed; the run goes on with the others. */
  readonly 'process-failed': { readonly worker: string; readonly error: string }
  /** The launch gate's decision, the LaunchClearance as given. */
  readonly 'gate-proved': Readonly<Record<string, unknown>>
  readonly 'gate-waived': Readonly<Record<string, unknown>>
  readonly 'gate-not-required': Readonly<Record<string, unknown>>
  /** exec without --total: the gate refused the total the program stated, and the program was stopped. */
  readonly 'gate-refused': { readonly total: number; readonly learned: boolean; readonly error: string }
  readonly extended: { readonly from: number; readonly to: number }
  /** Where a shared run's shards go was recorded (`RunRecord.shardsAt`), logged by `Store.setShardsAt`. */
  readonly shards: { readonly at: string }
  /** --fresh set a complete shared run aside in the database. */
  readonly 'set-aside': { readonly reason: string; readonly folder: string }

  readonly checkpoint: CheckpointEvent
  readonly stalled: { readonly quietSeconds: number | null }
  readonly recovered: Readonly<Record<string, never>>
  readonly 'lease-renewed-late': { readonly pid: number; readonly lapsedMs: number }
  readonly 'claim-lost': { readonly worker: string; readonly start: number; readonly end: number }

  /** A recorded range whose files failed their checks was forgotten, to be made again. */
  readonly recomputing: { readonly start: number; readonly end: number; readonly reason: string }
  readonly 'checkpoint-corrupt': {
    readonly file: string
    readonly step: number | null
    readonly reason: string
    readonly movedTo: string
  }
  /** `longhaul doctor` rebuilt the journal from the shards that prove themselves. */
  readonly rebuilt: {
    readonly damage: string
    readonly adoptedRanges: number
    readonly adoptedItems: number
    readonly quarantined: number
  }

  // A supervised program (`longhaul exec`).
  readonly 'program-started': {
    readonly life: number
    readonly pid: number
    readonly startTime: string | null
    readonly host: string
    readonly args: readonly string[]
    readonly checkpoint: string | null
    /**
     * The count (`done`) this life starts from, so its first report is counted as work: 0 for a life started without a
     * checkpoint; for one resumed from a checkpoint the program announced, where it said it was when it announced it;
     * null when that is unknown (a checkpoint the glob found, or one from an earlier session). Absent from older journals.
     */
    readonly from?: number | null
  }
  readonly 'program-exited': {
    readonly life: number
    readonly pid: number
    readonly code: number | null
    readonly signal: string | null
    readonly malformedLines: number
    /** The last lines the program wrote on stdout and stderr (at most 50), so that why a life ended can be read. */
    readonly lastLines?: readonly string[]
  }
  readonly 'program-killed': { readonly pid: number; readonly graceMs: number; readonly signal: string }
  readonly restarting: {
    readonly life: number
    readonly after: string
    readonly exitCode: number
    readonly delayMs: number
    readonly checkpoint: string | null
  }
  readonly 'leftovers-stopped': { readonly pid: number; readonly killed: boolean }
  readonly 'orphan-stopped': { readonly pid: number; readonly killed: boolean }
  readonly log: { readonly level: string; readonly message: string }
  /**
   * Where a supervised program said it was (items or steps done), journaled at a life's first report and then when it
   * moved, at most once per progress interval: its throughput over time. Absent from older journals.
   */
  readonly progress: { readonly life: number; readonly done: number; readonly total: number | null }
  readonly metrics: Readonly<Record<string, unknown>>
}

export type RunEventType = keyof RunEventDetails

/** An event as written: its type and what it says. */
export type RunEventInput = {
  [T in RunEventType]: { readonly type: T; readonly detail: RunEventDetails[T] }
}[RunEventType]

/**
 * An event as read back from the log, with the time it was written. The log
 * is data written by whichever longhaul wrote the journal: a reader checks a
 * field's type before it uses it.
 */
export interface RunEvent {
  readonly at: number
  readonly type: RunEventType | (string & {})
  readonly detail: Readonly<Record<string, unknown>>
}
