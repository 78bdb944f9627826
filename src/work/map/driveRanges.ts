/**
 * How a map run is driven, in every process of it: ranges claimed from the
 * journal, made by the RangeMaker, published to the run's shard place and
 * committed (commit-then-finalize), the shards of earlier sessions re-hashed
 * alongside; once nothing is left to claim, the role says whether the run is
 * done, and the reader index and the dataset digest are written.
 */
import { setTimeout as sleep } from 'node:timers/promises'
import { LeaseLostError, LonghaulError } from '../../errors.ts'
import type { Claim, RangeSummary } from '../../journal/store.ts'
import { crashPoint } from '../../run/faults.ts'
import type { Session } from '../../run/lifecycle.ts'
import type { Ending } from '../../run/role.ts'
import { journalDigest } from '../../shards/digest.ts'
import { writeReaderIndex } from '../../shards/readerIndex.ts'
import { type RunNaming, recheckRanges } from '../../shards/recovery.ts'
import { stagedFileName } from '../../shards/shardNames.ts'
import { ChunkSizer } from './chunkSizer.ts'
import { PrefixDigest } from './prefixDigest.ts'
import { failureError, type RangeMaker } from './rangeMaker.ts'
import type { Participation, Role } from './role.ts'
import type { RangeResult, RangeTask } from './task.ts'

/** One shard holds at most this many bytes before it is committed. */
const MAX_SHARD_BYTES = 16 * 1024 * 1024
/**
 * The item hashes the digest taken as ranges commit may keep while earlier ranges are still in flight: 8 ranges of
 * 65,536 items (a thread held up, on a busy machine, while the others go on); past it the digest is read from the journal.
 */
const DIGEST_WAITING_BYTES = 16 * 1024 * 1024

export interface RangeDriving {
  /** Set (to 1) when the run is stopping: no more claims, and the threads stop at their next item. */
  readonly stopFlag: Int32Array
  /** Commit at least this often, ms. */
  readonly checkpointMs: number
  /** The worker threads making ranges, how many ranges each makes at once, and the most items one has in flight. */
  readonly threads: number
  readonly rangesPerThread: number
  readonly inFlightPerThread: number
  /** Each range's result, for the summary. */
  readonly onResult: (result: RangeResult) => void
  /** A range's result once it is committed: its files' bytes, what its items used. */
  readonly onCommitted: (result: RangeResult) => void
  /** Files in data/ longhaul cannot prove it wrote. */
  readonly noteForeign: (names: readonly string[]) => void
  /** Awaited after a claim made while this process held no other, before its items start (a shared rate limit's newcomer waits to be counted). */
  readonly claimedAfterIdle?: () => Promise<void>
}

/** Drives the map run of `session` until every item is committed (complete) or it stops (interrupted); throws its failure. */
export async function driveRanges(
  session: Session<Participation>,
  role: Role,
  maker: RangeMaker,
  naming: RunNaming,
  kept: RangeSummary[],
  how: RangeDriving,
): Promise<Ending> {
  const { open, tracker, progress, settings, now, observer, stop } = session
  const { store, paths, lease, place, job } = open
  const { leaseTtlMs } = settings
  const { threads } = how
  const pollMs = Math.min(1_000, leaseTtlMs / 4)
  const sizer = new ChunkSizer(threads, undefined, undefined, how.inFlightPerThread)
  const inFlight = new Set<Promise<void>>()
  let claimedInFlight = 0
  const stopping = (): boolean => Atomics.load(how.stopFlag, 0) !== 0
  // A single-machine run started afresh commits every range itself: its digest is taken as they commit.
  const prefix =
    role.kind === 'local' && kept.length === 0 && tracker.committed === 0
      ? new PrefixDigest(DIGEST_WAITING_BYTES)
      : undefined

  const work = async (claim: Claim): Promise<void> => {
    const task: RangeTask = {
      start: claim.start,
      end: claim.end,
      token: claim.token,
      checkpointMs: how.checkpointMs,
      maxBytes: MAX_SHARD_BYTES,
    }
    const result = await maker.make(task)
    const lent = { toDigest: false }
    try {
      await commitMade(claim, result, lent)
    } finally {
      // Its hashes are committed (or will never be): their memory may take the next range's, unless the digest keeps them.
      if (!lent.toDigest) result.release?.()
    }
  }
  /** What a task made: recorded (commit-then-finalize), or dropped when its claim was lost; the claim's rest released. */
  const commitMade = async (claim: Claim, result: RangeResult, lent: { toDigest: boolean }): Promise<void> => {
    claimedInFlight -= claim.end - claim.start
    const count = result.end - result.start
    how.onResult(result)
    if (count > 0) {
      const files = result.files.map((file) => ({
        ...file,
        staged: stagedFileName(naming.runTag, claim.token, file.name),
      }))
      let recorded = false
      // Counted as this process's from before the journal may hold it until the count has it (Session.committing).
      session.committing += count
      try {
        try {
          // Upload, then record: a recorded file is always whole where it belongs.
          await place.publish(files)
          crashPoint('commit')
          await store.commitRange(
            claim,
            // A view of the hashes, not a copy: a slot the maker lends until `release` (hashSlots.ts).
            {
              start: result.start,
              end: result.end,
              files: result.files,
              itemHashes: asBuffer(result.itemHashes),
              // What the items used is counted with their commit, in the same transaction: exactly once.
              ...(result.usage && { usage: result.usage }),
              ...(result.failedUsage && { failedUsage: result.failedUsage }),
            },
            now(),
            lease?.token,
          )
          recorded = true
          crashPoint('finalize')
        } catch (error) {
          if (!(error instanceof LeaseLostError)) throw error
          // The run was taken over: the error says by whom.
          if (lease && (await store.getOwner())?.token !== lease.token) throw await progress.whyLost(error)
          // A single-machine run's claims are all its owner's: one lost while the owner token still holds was retaken by this same process.
          // Held up past its lease (a pause, a slow disk), this process lost the claim to another, whose copy counts: the run goes on.
          observer?.note?.(
            `items ${result.start}–${result.end - 1} were retaken ${role.retakenBy} while this one was held up past its lease; this copy is dropped`,
          )
          await store.addEvent('claim-lost', { worker: role.me, start: result.start, end: result.end }, now())
          return
        } finally {
          // Only a recorded commit gives the files their final names; anything else leaves nothing a reader would take as output.
          if (recorded) await place.finalize(files)
          else await place.discard(files)
        }
        // After the rename, not between the record and it: hashing a range's hashes there would widen the crash window in
        // which a recorded file still has its staged name.
        lent.toDigest = prefix?.recorded(result) ?? false
        how.onCommitted(result)
        session.committed(count)
        beginRecheck()
      } finally {
        session.committing -= count
      }
    }
    if (result.end < claim.end) await store.releaseClaim({ ...claim, start: result.end })
    sizer.observe(count, result.busyMs)
    if (result.failure) stop(failureError(result.failure, result.start, claim.end))
  }
  const feed = async (): Promise<void> => {
    while (!stopping() && inFlight.size < threads * (how.rangesPerThread + 1)) {
      const unclaimed = Math.max(1, session.total - tracker.committed - claimedInFlight)
      // After a pause past the lease, it is renewed (or found taken) before anything more is claimed.
      await progress.ensureLease()
      const claim = await store.claimRange(role.me, sizer.next(unclaimed), leaseTtlMs, now())
      if (!claim) return
      if (inFlight.size === 0) await how.claimedAfterIdle?.()
      claimedInFlight += claim.end - claim.start
      const running: Promise<void> = work(claim)
        .catch((error: Error) => stop(error))
        .finally(() => inFlight.delete(running))
      inFlight.add(running)
    }
  }

  // Shards committed before this session are re-hashed alongside new work, from this session's first commit on (or
  // once nothing is left in flight): begun at once, re-hashing every shard (1.4 GB at 100,000,000 trivial items)
  // took the same thread the first range waits on.
  let beginRecheck = (): void => undefined
  const firstCommit = new Promise<void>((resolve) => {
    beginRecheck = resolve
  })
  let recheckDone = kept.length === 0
  const recheck = firstCommit
    .then(() => recheckRanges(store, paths, kept, stopping, (range) => tracker.forgot(range.end - range.start)))
    .then(
      (bad) => {
        if (bad) observer?.note?.(`${bad} recorded range(s) failed their checksum; recomputing them`)
      },
      (error: Error) => stop(error),
    )
    .finally(() => {
      recheckDone = true
    })

  /** Whether the run is done with nothing in flight here (the total as the journal now has it: the owner may have grown it). */
  const doneWhenIdle = async (): Promise<boolean> => {
    const idle = await role.idle(store, session.total)
    session.total = idle.total
    return idle.done
  }
  for (;;) {
    for (;;) {
      // A claim refused (the lease was lost) stops the run as a failed commit does: the ranges in flight still settle, and leave nothing behind.
      await feed().catch((error: Error) => stop(error))
      if (inFlight.size > 0) await Promise.race(inFlight)
      else if (!recheckDone) {
        beginRecheck()
        await recheck
      } else if (stopping() || (await doneWhenIdle())) break
      // Nothing free right now: other processes hold the rest, and a claim of one that dies expires after the TTL.
      else await sleep(pollMs)
    }
    beginRecheck()
    await recheck
    if (session.failure || stopping()) break
    const tidied = await role.tidy(open, naming)
    if (tidied.length) how.noteForeign(tidied)
    // Done only if still done after the clean-up: a restarted owner may have forgotten a range whose file was missing.
    if (await doneWhenIdle()) break
  }
  // What the digest kept goes back; it stands if it hashed every item of the run.
  const taken = prefix?.finish(session.total)
  if (session.failure) throw session.failure
  if (stopping()) return { state: 'interrupted', detail: { committed: tracker.committed } }
  const committed = await store.committedItems()
  if (committed !== session.total)
    throw new LonghaulError(
      'LONGHAUL_JOURNAL_INVALID',
      `internal error: ${committed} of ${session.total} items committed after the last range`,
    )
  await writeReaderIndex(store, place, job.output.kind)
  const digest = taken ?? (await journalDigest(store))
  return { state: 'complete', detail: { committed, digest } }
}

function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
}
