/**
 * The journal: the one record of what a run has committed. Everything the
 * runner needs from a database is here, and nothing more, so that SQLite (one
 * machine) and PostgreSQL (many) can both stand behind it. Every method is
 * async for the sake of networked stores; times are milliseconds since the
 * epoch, passed in by the caller so tests can control the clock.
 */
import type { RunEvent, RunEventDetails, RunEventType } from './events.ts'
import type { RangeUsage, UsageTotals } from './usage.ts'

export type RunState = 'running' | 'complete' | 'failed' | 'interrupted'

/**
 * What a run does: a map job's items (`longhaul run` of a defineJob), a
 * loop's steps (defineLoop), or a supervised program (`longhaul exec`).
 */
export type RunKind = 'map' | 'loop' | 'exec'

export interface RunRecord {
  readonly runId: string
  readonly job: string
  readonly fingerprint: string
  /** The JobIdentity the fingerprint was computed from, as JSON. */
  readonly identity: string
  readonly total: number
  readonly kind: RunKind
  /** Where a shared run's shards go: a bucket URL; null for the run folder's (or the shared folder's) data/. */
  readonly shardsAt: string | null
  /**
   * A loop's digest: its final state's sha256 (data/final.bin), recorded as it
   * completed; null until then, and for other kinds (a map run's digest is
   * computed from its items' hashes).
   */
  readonly finalDigest: string | null
  readonly state: RunState
  readonly createdAt: number
  readonly updatedAt: number
}

export interface OwnerInfo {
  readonly pid: number
  readonly host: string
}

/**
 * The name a process's claims go by in a run shared by several processes:
 * `host:pid`, unique per process across machines (a heartbeat renews every
 * claim of a name).
 */
export function claimNameOf(process: OwnerInfo): string {
  return `${process.host}:${process.pid}`
}

/** The process a claim name of claimNameOf stands for; undefined for any other name (a single-machine run's). */
export function processOfClaimName(name: string): OwnerInfo | undefined {
  const colon = name.lastIndexOf(':')
  const pid = Number(name.slice(colon + 1))
  return colon > 0 && Number.isSafeInteger(pid) && pid > 0 ? { host: name.slice(0, colon), pid } : undefined
}

export interface OwnerLease extends OwnerInfo {
  readonly token: number
  readonly since: number
  readonly expiresAt: number
}

/** A range of items leased to one worker; `token` fences its commits. */
export interface Claim {
  readonly start: number
  readonly end: number
  readonly token: number
}

export interface ShardFileRecord {
  /** File name inside the run's data/ folder. */
  readonly name: string
  readonly bytes: number
  readonly sha256: string
}

/** A committed range [start, end): its files, the hash of each item, in order, and what its items reported they used. */
export interface CommittedRange extends RangeUsage {
  readonly start: number
  readonly end: number
  readonly files: readonly ShardFileRecord[]
  /** (end - start) × 32 bytes. */
  readonly itemHashes: Buffer
}

export interface RangeSummary {
  readonly start: number
  readonly end: number
  readonly files: readonly ShardFileRecord[]
}

export type { RunEvent, RunEventDetails, RunEventType } from './events.ts'

/** What recording a run takes: where its shards go and its digest come later (setShardsAt, setState). */
export type NewRun = Omit<RunRecord, 'state' | 'updatedAt' | 'shardsAt' | 'finalDigest'>

export interface Store {
  getRun(): Promise<RunRecord | undefined>
  /** Records a new run; fails if the journal already holds one. */
  createRun(run: NewRun): Promise<void>
  /** Grows the run's total; items past the old total become claimable. Never shrinks. */
  extendTotal(total: number, now: number): Promise<void>
  /** Sets the run's state; a loop that completes gives its `finalDigest` with it, in the same write. */
  setState(state: RunState, now: number, finalDigest?: string): Promise<void>
  /**
   * Records that the run's shards go to `at` (a bucket URL), and logs a
   * `shards` event with it, in one write: set before any work, so a worker
   * that joins knows where to put them.
   */
  setShardsAt(at: string, now: number): Promise<void>

  getOwner(): Promise<OwnerLease | undefined>
  /**
   * Takes the run's owner lease if it is free, expired at `now`, or held by
   * token `replacing`. Returns the lease, or the current holder when refused.
   */
  acquireOwner(
    owner: OwnerInfo,
    ttlMs: number,
    now: number,
    replacing?: number,
  ): Promise<{ lease: OwnerLease } | { heldBy: OwnerLease }>
  /** Extends the owner lease and every claim of `worker`; throws LeaseLostError if the lease was taken. */
  heartbeat(token: number, worker: string, ttlMs: number, now: number): Promise<void>
  releaseOwner(token: number): Promise<void>
  /**
   * Extends every claim `worker` still holds, without the owner lease: how a
   * process that joined a run (`longhaul worker`) keeps its ranges while it
   * works. A claim another worker has retaken is no longer `worker`'s and is
   * left alone.
   */
  renewClaims(worker: string, ttlMs: number, now: number): Promise<void>

  /** Leases the next free items (an expired or released claim first, then new items), at most `maxItems`. */
  claimRange(worker: string, maxItems: number, ttlMs: number, now: number): Promise<Claim | undefined>
  /**
   * Atomically records a range that starts at its claim's start and ends at or
   * before its end, shrinks the claim to what is left, and logs a
   * `checkpoint` event. Throws LeaseLostError when `claim.token` no longer
   * holds those items, or when `ownerToken` is given and is no longer the
   * run's owner (a paused owner that was taken over cannot commit).
   */
  commitRange(claim: Claim, range: CommittedRange, now: number, ownerToken?: number): Promise<void>
  /** Gives back the rest of a claim so anyone may take it at once. */
  releaseClaim(claim: Claim): Promise<void>
  /** Gives back every claim not held by a live lease of another worker: used by a new owner. */
  releaseClaimsOf(worker: string): Promise<void>
  /** Forgets a committed range whose files failed their checks, so its items are computed again. */
  uncommitRange(start: number): Promise<void>

  /**
   * The workers holding a claim that has not expired at `now`, by name, each
   * once, sorted: who is still at work on the run. A released claim names
   * nobody.
   */
  claimHolders(now: number): Promise<string[]>

  /** Items committed so far. */
  committedItems(): Promise<number>
  /** What the committed ranges' items reported with `ctx.usage`, summed by counter (recorded with each commit). */
  usageTotals(): Promise<UsageTotals>
  /** Committed ranges in index order, without their item hashes. */
  ranges(): AsyncIterable<RangeSummary>
  /** Committed ranges in index order, with item hashes. */
  rangesWithHashes(): AsyncIterable<CommittedRange>

  addEvent<T extends RunEventType>(type: T, detail: RunEventDetails[T], now: number): Promise<void>
  events(): Promise<RunEvent[]>

  close(): Promise<void>
}
