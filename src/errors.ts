/**
 * Every error longhaul throws on purpose. Each has a stable string code; the
 * CLI maps the class to an exit code (DESIGN §2): usage errors exit 2, job
 * failures 1, gate refusals 3, interruptions 130.
 *
 * Messages say what happened, where, and what to do next.
 */

export type ErrorCode =
  | 'LONGHAUL_BAD_USAGE'
  | 'LONGHAUL_JOB_INVALID'
  | 'LONGHAUL_PARAMS_INVALID'
  | 'LONGHAUL_INPUT_INVALID'
  | 'LONGHAUL_OUT_DIR_UNUSABLE'
  | 'LONGHAUL_FINGERPRINT_MISMATCH'
  | 'LONGHAUL_RUN_OWNED'
  | 'LONGHAUL_LEASE_LOST'
  | 'LONGHAUL_ITEM_FAILED'
  | 'LONGHAUL_NOT_DURABLE'
  | 'LONGHAUL_JOURNAL_INVALID'
  | 'LONGHAUL_STORE_UNAVAILABLE'
  | 'LONGHAUL_STORE_REFUSED'
  | 'LONGHAUL_BUCKET_FAILED'
  | 'LONGHAUL_GATE_REFUSED'
  | 'LONGHAUL_PREFLIGHT_FAILED'
  | 'LONGHAUL_INTERRUPTED'
  | 'LONGHAUL_EXEC_FAILED'
  | 'LONGHAUL_VALUE_NOT_REPRESENTABLE'
  | 'LONGHAUL_RUN_DAMAGED'
  | 'LONGHAUL_JOURNAL_DISK'
  | 'LONGHAUL_JOURNAL_BUSY'
  | 'LONGHAUL_FILE_REFUSED'
  | 'LONGHAUL_RATE_LIMITED'

/** On every longhaul error: the names of its class and the classes above it, up to LonghaulError. */
const KINDS = Symbol.for('longhaul.errorKinds')

export class LonghaulError extends Error {
  readonly code: ErrorCode
  declare readonly [KINDS]: readonly string[]
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = new.target.name
    this.code = code
    const kinds: string[] = []
    for (let c: Function = new.target; c !== Error; c = Object.getPrototypeOf(c)) kinds.push(c.name)
    Object.defineProperty(this, KINDS, { value: kinds })
  }

  /**
   * `instanceof` also knows the errors of another copy of longhaul: a job of a CommonJS project, compiled by tsx,
   * gets one of its own, and the errors it throws (a bad input line) must still be told apart.
   */
  static override [Symbol.hasInstance](value: unknown): boolean {
    // biome-ignore lint/complexity/noThisInStatic: the class instanceof asks about, a subclass as well
    // biome-ignore lint/complexity/noUselessThisAlias: named once, used twice below
    const asked: Function = this
    if (Function.prototype[Symbol.hasInstance].call(asked, value)) return true
    const kinds = typeof value === 'object' && value !== null ? (value as { [KINDS]?: unknown })[KINDS] : undefined
    return Array.isArray(kinds) && kinds.includes(asked.name)
  }
}

/** The user asked for something that cannot work: bad flags, a bad job file, bad params. Exit 2. */
export class UsageError extends LonghaulError {
  constructor(message: string, code: ErrorCode = 'LONGHAUL_BAD_USAGE', options?: { cause?: unknown }) {
    super(code, message, options)
  }
}

/** Resuming with different code, params, seed or input (invariant same-job-or-refuse). Exit 2. */
export class FingerprintMismatchError extends UsageError {
  readonly changed: readonly string[]
  constructor(
    dir: string,
    changed: readonly string[],
    advice = 'Resume with the original job, params and seed, or pass --fresh to move the old output aside and start over.',
  ) {
    super(`${dir} holds a run of a different job: ${changed.join('; ')}. ${advice}`, 'LONGHAUL_FINGERPRINT_MISMATCH')
    this.changed = changed
  }
}

export interface LeaseHolder {
  readonly pid: number
  readonly host: string
  readonly since: string
  readonly expiresAt: string
}

/** Another live process owns the run directory (invariant one-owner). Exit 2. */
export class RunOwnedError extends UsageError {
  readonly holder: LeaseHolder
  constructor(dir: string, holder: LeaseHolder) {
    super(
      `${dir} is being run by pid ${holder.pid} on ${holder.host} since ${holder.since}. ` +
        `If that process is dead, its lease expires at ${holder.expiresAt}; run the same command then.`,
      'LONGHAUL_RUN_OWNED',
    )
    this.holder = holder
  }
}

/** A commit or renewal was attempted with a fencing token that no longer holds the lease. */
export class LeaseLostError extends LonghaulError {
  constructor(message: string) {
    super('LONGHAUL_LEASE_LOST', message)
  }
}

/** An item kept failing after its retries. Committed work stays. Exit 1. */
export class ItemFailedError extends LonghaulError {
  readonly index: number
  readonly attempts: number
  readonly itemStack: string | undefined
  constructor(index: number, attempts: number, message: string, stack: string | undefined) {
    super(
      'LONGHAUL_ITEM_FAILED',
      `item ${index} failed after ${attempts} attempt${attempts === 1 ? '' : 's'}: ${message}. ` +
        `Committed work is kept: run the same command to retry it. A change to the job's code makes it a different job, which --fresh starts in a clean folder (the old one is moved aside).`,
    )
    this.index = index
    this.attempts = attempts
    this.itemStack = stack
  }
}

/** A write or fsync failed: nothing after it can be trusted as durable (invariant durable-or-fail). Exit 1. */
export class NotDurableError extends LonghaulError {
  constructor(what: string, cause: unknown) {
    const reason = cause instanceof Error ? cause.message : String(cause)
    const full = /ENOSPC|disk is full|SQLITE_FULL/i.test(reason)
      ? ' The disk is full: free some space and run the same command again to resume.'
      : ''
    super(
      'LONGHAUL_NOT_DURABLE',
      `could not make ${what} durable: ${reason.replace(/\.$/, '')}.${full} Nothing after the last commit was recorded.`,
      {
        cause,
      },
    )
  }
}

/** The journal is unreadable or from a newer longhaul. Exit 2. */
export class JournalError extends UsageError {
  constructor(message: string) {
    super(message, 'LONGHAUL_JOURNAL_INVALID')
  }
}

/**
 * The journal's server (PostgreSQL) cannot be reached, did not answer in time,
 * or went away mid-run. Committed work is safe in the journal; run again once
 * the server is back. Exit 1.
 */
export class StoreUnavailableError extends LonghaulError {
  constructor(message: string, cause?: unknown) {
    super('LONGHAUL_STORE_UNAVAILABLE', message, { cause })
  }
}

/** The journal's server answered but refused this connection: the user, password or database in the URL is wrong. Exit 2. */
export class StoreRefusedError extends UsageError {
  constructor(message: string, cause?: unknown) {
    super(message, 'LONGHAUL_STORE_REFUSED', { cause })
  }
}

/**
 * The bucket a run's shards go to failed a request (unreachable, denied, no
 * such bucket) after the SDK's retries. Nothing unrecorded counts: a shard is
 * recorded only after its upload succeeded, so committed work is safe; run
 * again once the bucket answers. Exit 1.
 */
export class BucketError extends LonghaulError {
  constructor(message: string, cause?: unknown) {
    super('LONGHAUL_BUCKET_FAILED', message, { cause })
  }
}

/** One requirement of the launch gate, met or not. */
export interface GateRequirement {
  readonly met: boolean
  readonly text: string
}

/** A production-scale run without a passing, unexpired proof for this job (invariant gate). Exit 3. */
export class GateRefusedError extends LonghaulError {
  readonly requirements: readonly GateRequirement[]
  readonly preflightCommand: string
  constructor(headline: string, requirements: readonly GateRequirement[], preflightCommand: string) {
    super(
      'LONGHAUL_GATE_REFUSED',
      [
        `refused by the launch gate: ${headline}`,
        ...requirements.map((r) => `  ${r.met ? '✔' : '✘'} ${r.text}`),
        'Prove it first (preflight kills and resumes it on its own code, checks it, then writes the proof):',
        `  ${preflightCommand}`,
        'or pass --skip-preflight to run without a proof (the waiver is recorded in the journal, progress.json and status).',
      ].join('\n'),
    )
    this.requirements = requirements
    this.preflightCommand = preflightCommand
  }
}

/** Preflight ran and at least one check failed; the report names each broken requirement. Exit 1. */
export class PreflightFailedError extends LonghaulError {
  constructor(message: string) {
    super('LONGHAUL_PREFLIGHT_FAILED', message)
  }
}

/** Stopped by Ctrl-C or SIGTERM before it finished; nothing half-done was kept. Exit 130. */
export class InterruptedError extends LonghaulError {
  constructor(message: string) {
    super('LONGHAUL_INTERRUPTED', message)
  }
}

/**
 * An item returned a value its output format cannot write as it is: NaN in
 * JSON, 300 in a uint8 field, a BigInt, a cycle, a missing npy field. Nothing
 * is changed to make it fit: the item fails at once, without retries (the same
 * value would fail again), naming the item, the field and the value. Items
 * committed before it are kept. Exit 1.
 */
export class ValueNotRepresentableError extends LonghaulError {
  readonly index: number
  /** Where in the item's value: `meta.size`, `scores[3]`, an npy field `video[0, 2]`; empty for the value as a whole. */
  readonly field: string
  /** The value as text: `NaN`, `300`, `12n (a BigInt)`, `a Map`. */
  readonly value: string
  /** Why the output cannot hold it, and what to return instead. */
  readonly reason: string
  /** The job's own frames, when the job's code threw while its value was written (a toJSON method). */
  readonly itemStack: string | undefined
  constructor(index: number, field: string, value: string, reason: string, itemStack?: string) {
    super(
      'LONGHAUL_VALUE_NOT_REPRESENTABLE',
      `item ${index}${field ? ` field '${field}'` : ''} is ${value}: ${reason}. ` +
        `Nothing is changed to make a value fit: item ${index} failed without retries, as the same value would fail again. ` +
        `Committed work is kept. Make the job return a value the output can hold; the changed code makes it a different job, which --fresh starts in a clean folder (the old one is moved aside).`,
    )
    this.index = index
    this.field = field
    this.value = value
    this.reason = reason
    this.itemStack = itemStack
  }
}

/** What a user can do with a run folder longhaul cannot trust: rebuild its journal from the shards, or set it aside; either keeps every file of it. */
export function setAsideAdvice(dir: string): string {
  return (
    `To keep the work done, rebuild the journal from the shards' own bytes: \`longhaul doctor JOB --out ${dir}\` with the job, --param/--params and --seed the run was made with (the damaged journal is moved aside, never deleted). ` +
    `To start over instead, run the same \`longhaul run\` command with --fresh: it moves ${dir} aside to ${dir}.before-<time> (nothing is deleted) and starts a new run there.`
  )
}

/**
 * A run folder longhaul cannot trust: its journal truncated, garbled or
 * missing records its shards prove, data/ gone, a folder where longhaul keeps
 * a file. Names what is damaged and what to do. Exit 2.
 */
export class RunDamagedError extends UsageError {
  readonly dir: string
  constructor(dir: string, damage: string, advice: string = setAsideAdvice(dir)) {
    super(`the run in ${dir} is damaged: ${damage.replace(/\.$/, '')}. ${advice}`, 'LONGHAUL_RUN_DAMAGED')
    this.dir = dir
  }
}

/**
 * The disk under a run's journal failed a read or write when the command
 * began (full, read-only, an I/O error): nothing was changed. Exit 2.
 */
export class JournalDiskError extends UsageError {
  constructor(message: string, cause?: unknown) {
    super(message, 'LONGHAUL_JOURNAL_DISK', { cause })
  }
}

/** Another process kept the journal locked longer than longhaul waits for it. Exit 2. */
export class JournalBusyError extends UsageError {
  constructor(message: string, cause?: unknown) {
    super(message, 'LONGHAUL_JOURNAL_BUSY', { cause })
  }
}

/**
 * A file where longhaul expects one it wrote is something else — a symbolic
 * link, a FIFO, a folder — or leads outside the folder being served. It is
 * not read. Exit 2.
 */
export class FileRefusedError extends UsageError {
  readonly path: string
  /** What it is instead: "a symbolic link", "a FIFO", … */
  readonly what: string
  constructor(path: string, what: string) {
    super(
      `${path} is ${what}, not a file longhaul wrote there: it is not read. Longhaul writes its files in place and never as links; remove it (a running job rewrites progress.json at its next commit).`,
      'LONGHAUL_FILE_REFUSED',
    )
    this.path = path
    this.what = what
  }
}

/**
 * Thrown by an item (or by `ctx.fetch` on HTTP 429/503) when the service it calls says "too many requests": the item
 * is tried again after `retryAfterMs` (at least), with backoff and jitter, without using up its `retries`; every
 * thread of the process holds its calls until then. After many such answers in a row the item fails, naming the limit.
 */
export class RateLimitedError extends LonghaulError {
  /** How long the service asked to wait, ms; undefined when it did not say (backoff alone decides). */
  readonly retryAfterMs: number | undefined
  constructor(message: string, retryAfterMs?: number) {
    super('LONGHAUL_RATE_LIMITED', message)
    this.retryAfterMs = retryAfterMs
  }
}
