import { rmSync } from 'node:fs'
import { setTimeout as sleep } from 'node:timers/promises'
import { LeaseLostError, LonghaulError } from '../../errors.ts'
import type { Claim } from '../../journal/store.ts'
import { crashPoint } from '../../run/faults.ts'
import type { LaunchGate, RunTarget } from '../../run/identify.ts'
import type { RunObserver } from '../../run/observer.ts'
import type { ProgressLoop } from '../../run/progressLoop.ts'
import { type RawRunSettings, resolveRunSettings } from '../../run/settings.ts'
import { startSession } from '../../run/startSession.ts'
import { type RunSummary, sessionSummary } from '../../run/summary.ts'
import { journalDigest } from '../../shards/digest.ts'
import { writeReaderIndex } from '../../shards/readerIndex.ts'
import { type RunNaming, recheckRanges } from '../../shards/recovery.ts'
import { runTagOf, stagedFileName } from '../../shards/shardNames.ts'
import { ChunkSizer } from './chunkSizer.ts'
import { prepareMaker } from './prepareMaker.ts'
import { failureError, type RangeMaker } from './rangeMaker.ts'
import { type Leaving, roleOf } from './role.ts'
import type { RangeTask } from './task.ts'

export interface RunOptions extends RawRunSettings, RunTarget {
  /** Asked before anything is written; may refuse the run (invariant gate). @default none: a run started from code is not gated */
  readonly gate?: LaunchGate
  /** Commit at least this often, ms. @default the job's checkpointEvery (60 s) */
  readonly checkpointEvery?: number
  /** Aborting it stops the run cleanly: finished items are committed, the run is marked interrupted. */
  readonly signal?: AbortSignal
  readonly observer?: RunObserver
  readonly now?: () => number
  /**
   * The run's journal in PostgreSQL (a postgres:// URL): a run that other
   * processes, on this machine or others, can join with `join`. outDir must
   * then be a folder they all share. @default a SQLite journal in outDir
   */
  readonly store?: string
  /** Join this run of `store` as a worker, rather than own (create or resume) a run. @default undefined */
  readonly join?: string
  /** s3://bucket/prefix: with `store`, the shards go to this bucket; outDir keeps the progress files. @default outDir/data */
  readonly shards?: string
}

/** One shard holds at most this many bytes before it is committed. */
const MAX_SHARD_BYTES = 16 * 1024 * 1024

/**
 * Runs or resumes a map job in `outDir` until every item is committed, the
 * signal aborts it (state interrupted), or an item fails (ItemFailedError,
 * state failed). Committed work always stays. With `store`, the run is
 * shared: this process owns it, or with `join` works on it beside its owner,
 * and every process claims, makes and commits ranges the same way.
 */
export async function runMapJob(options: RunOptions): Promise<RunSummary> {
  const now = options.now ?? Date.now
  const settings = resolveRunSettings(options)
  const { workers, leaseTtlMs } = settings
  const startedAt = now()
  // The worker bundle is built while the run is opened; both take tens of milliseconds.
  const threads = prepareMaker(options.jobPath)
  const role = roleOf(options)
  const { me } = role
  const open = await role.open(leaseTtlMs, now).catch(async (error: unknown) => {
    await threads.abandon()
    throw error
  })
  const { job, store, paths, lease, place } = open
  // Where the run is, for people: a worker staging in a temporary folder works on the run's bucket.
  const where = open.scratch !== undefined ? place.where : paths.dir
  const pollMs = Math.min(1_000, leaseTtlMs / 4)
  const checkpointMs = options.checkpointEvery ?? job.checkpointEvery
  /** How this run's files are named: what recovery may prove it wrote. */
  const naming: RunNaming = { runTag: runTagOf(open.run.runId), suffixes: job.output.suffixes }
  /** The run's total; a shared run's worker reads it again, since the owner may grow it. */
  let total = open.run.total
  const stopFlag = new Int32Array(new SharedArrayBuffer(4))
  const finishedCounter = new SharedArrayBuffer(4)
  let failure: Error | undefined
  let progress: ProgressLoop | undefined
  let maker: RangeMaker | undefined
  const stop = (reason?: Error): void => {
    if (reason) failure ??= reason
    Atomics.store(stopFlag, 0, 1)
  }
  const onAbort = (): void => stop()
  /** Files in data/ longhaul cannot prove it wrote: left, and said once. */
  const noteForeign = (names: readonly string[]): void =>
    options.observer?.note?.(
      `left ${names.length} file(s) in ${place.where.replace(/\/$/, '')}/data that this run did not write: ${names.slice(0, 5).join(', ')}${names.length > 5 ? ', …' : ''} (verify lists them as stray; move them out to make the output clean)`,
    )
  try {
    // Threads start now and load while the journal and data folder are reconciled.
    maker = await threads.start({
      setup: {
        jobPath: options.jobPath,
        params: open.params,
        seed: open.seed,
        retries: job.retries,
        dataDir: paths.data,
        runTag: naming.runTag,
        inputHandle: open.input?.handle,
        stop: stopFlag.buffer as SharedArrayBuffer,
        finished: finishedCounter,
      },
      concurrency: workers,
      onBroken: stop,
    })
    const { kept, removed, finished, forgotten, foreign } = await role.reconcile(open, naming)
    if (removed) options.observer?.note?.(`removed ${removed} unrecorded file(s) left by an earlier crash`)
    if (finished)
      options.observer?.note?.(`finished ${finished} recorded file(s) whose rename an earlier crash cut short`)
    if (foreign.length) noteForeign(foreign)
    if (forgotten)
      options.observer?.note?.(`${forgotten} recorded range(s) had missing or short files; recomputing them`)
    const committedAtStart = await store.committedItems()
    const welcome = role.welcome(open)
    if (welcome) options.observer?.note?.(welcome)
    /** Brings the count up to the journal's: in a shared run, what the other processes committed too. */
    const countOthers = async (): Promise<void> => {
      const behind = Math.min(await store.committedItems(), total) - tracker.committed
      if (behind > 0) tracker.committedItems(behind, now())
    }
    const session = await startSession({
      open,
      where,
      job: job.name,
      seed: open.seed,
      settings,
      committed: committedAtStart,
      startedAt,
      finished: finishedCounter,
      observer: options.observer,
      now,
      onLeaseError: (error) => stop(error),
      ...role.session(countOthers),
    })
    const { tracker } = session
    progress = session.progress
    options.signal?.addEventListener('abort', onAbort, { once: true })
    if (options.signal?.aborted) stop()

    let bytesWritten = 0
    /** Items this process committed (in a shared run, the tracker counts the others' too). */
    let committedHere = 0
    let slowestItemMs = 0
    /** What this process has of the run when it stops or completes, for the role. */
    const leaving = (): Leaving => ({ open, progress, committed: tracker.committed, committedHere, countOthers, now })
    const retainedByThread = new Map<number, number>()
    const sizer = new ChunkSizer(workers)
    const inFlight = new Set<Promise<void>>()
    let claimedInFlight = 0
    const stopping = (): boolean => Atomics.load(stopFlag, 0) !== 0

    const work = async (claim: Claim): Promise<void> => {
      const task: RangeTask = {
        start: claim.start,
        end: claim.end,
        token: claim.token,
        checkpointMs,
        maxBytes: MAX_SHARD_BYTES,
      }
      const result = await maker!.make(task)
      claimedInFlight -= claim.end - claim.start
      const count = result.end - result.start
      slowestItemMs = Math.max(slowestItemMs, result.slowestItemMs)
      if (result.retained) retainedByThread.set(result.retained.thread, result.retained.bytes)
      if (count > 0) {
        const files = result.files.map((file) => ({
          ...file,
          staged: stagedFileName(naming.runTag, claim.token, file.name),
        }))
        let recorded = false
        try {
          // Upload, then record: a recorded file is always whole where it belongs.
          await place.publish(files)
          crashPoint('commit')
          await store.commitRange(
            claim,
            { start: result.start, end: result.end, files: result.files, itemHashes: Buffer.from(result.itemHashes) },
            now(),
            lease?.token,
          )
          recorded = true
          crashPoint('finalize')
        } catch (error) {
          if (!(error instanceof LeaseLostError)) throw error
          // The run was taken over: the error says by whom.
          if (lease && (await store.getOwner())?.token !== lease.token) throw await progress!.whyLost(error)
          // A single-machine run's claims are all its owner's: one lost while the owner token still holds was retaken by this same process.
          // Held up past its lease (a pause, a slow disk), this process lost the claim to another, whose copy counts: the run goes on.
          options.observer?.note?.(
            `items ${result.start}–${result.end - 1} were retaken ${role.retakenBy} while this one was held up past its lease; this copy is dropped`,
          )
          await store.addEvent('claim-lost', { worker: me, start: result.start, end: result.end }, now())
          return
        } finally {
          // Only a recorded commit gives the files their final names; anything else leaves nothing a reader would take as output.
          if (recorded) await place.finalize(files)
          else await place.discard(files)
        }
        bytesWritten += result.files.reduce((sum, file) => sum + file.bytes, 0)
        progress!.committed(count)
        committedHere += count
        const { committed, committedThisSession, lastCheckpointAt } = tracker
        options.observer?.committed?.({
          total,
          committed,
          committedThisSession,
          elapsedMs: now() - startedAt,
          lastCommitAt: lastCheckpointAt ?? now(),
        })
      }
      if (result.end < claim.end) await store.releaseClaim({ ...claim, start: result.end })
      sizer.observe(count, result.busyMs)
      if (result.failure) stop(failureError(result.failure, result.start, claim.end))
    }
    const feed = async (): Promise<void> => {
      while (!stopping() && inFlight.size < workers * 2) {
        const unclaimed = Math.max(1, total - tracker.committed - claimedInFlight)
        // After a pause past the lease, it is renewed (or found taken) before anything more is claimed.
        await progress!.ensureLease()
        const claim = await store.claimRange(me, sizer.next(unclaimed), leaseTtlMs, now())
        if (!claim) return
        claimedInFlight += claim.end - claim.start
        const running: Promise<void> = work(claim)
          .catch((error: Error) => stop(error))
          .finally(() => inFlight.delete(running))
        inFlight.add(running)
      }
    }

    // Shards committed before this session are re-hashed alongside new work.
    let recheckDone = kept.length === 0
    const recheck = recheckRanges(store, paths, kept, stopping, (range) => tracker.forgot(range.end - range.start))
      .then(
        (bad) => {
          if (bad) options.observer?.note?.(`${bad} recorded range(s) failed their checksum; recomputing them`)
        },
        (error: Error) => stop(error),
      )
      .finally(() => {
        recheckDone = true
      })

    /** Whether the run is done with nothing in flight here (the total as the journal now has it: the owner may have grown it). */
    const doneWhenIdle = async (): Promise<boolean> => {
      const idle = await role.idle(store, total)
      total = idle.total
      return idle.done
    }
    for (;;) {
      for (;;) {
        // A claim refused (the lease was lost) stops the run as a failed commit does: the ranges in flight still settle, and leave nothing behind.
        await feed().catch((error: Error) => stop(error))
        if (inFlight.size > 0) await Promise.race(inFlight)
        else if (!recheckDone) await recheck
        else if (stopping() || (await doneWhenIdle())) break
        // Nothing free right now: other processes hold the rest, and a claim of one that dies expires after the TTL.
        else await sleep(pollMs)
      }
      await recheck
      if (failure || stopping()) break
      const tidied = await role.tidy(open, naming)
      if (tidied.length) noteForeign(tidied)
      // Done only if still done after the clean-up: a restarted owner may have forgotten a range whose file was missing.
      if (await doneWhenIdle()) break
    }
    if (failure) throw failure
    if (stopping()) {
      await role.interrupted(leaving())
      return summary('interrupted', null)
    }
    const finalCommitted = await store.committedItems()
    if (finalCommitted !== total)
      throw new LonghaulError(
        'LONGHAUL_JOURNAL_INVALID',
        `internal error: ${finalCommitted} of ${total} items committed after the last range`,
      )
    await role.completing(leaving())
    await writeReaderIndex(store, place, job.output.kind)
    const digest = await journalDigest(store)
    // Whichever process of a shared run gets here first records the end; the others find it recorded.
    if ((await store.getRun())?.state !== 'complete') {
      await store.setState('complete', now())
      await store.addEvent('complete', { committed: finalCommitted, digest }, now())
    }
    await progress.end('complete')
    return summary('complete', digest)

    function summary(state: RunSummary['state'], digest: string | null): RunSummary {
      return sessionSummary(
        {
          job: job.name,
          runId: open.run.runId,
          dir: where,
          state,
          total,
          committed: tracker.committed,
          committedThisSession: committedHere,
          bytesWritten,
          slowestItemMs,
          digest,
          resumed: open.resumed,
          retainedBytes: retainedByThread.size ? [...retainedByThread.values()].reduce((a, b) => a + b, 0) : null,
        },
        startedAt,
        now(),
      )
    }
  } catch (error) {
    stop(error as Error)
    const final = failure ?? (error as Error)
    await role.failed({ open, progress, now }, final)
    throw final
  } finally {
    // Teardown in reverse order of set-up.
    options.signal?.removeEventListener('abort', onAbort)
    await maker?.close()
    progress?.stop()
    if (lease) await store.releaseOwner(lease.token).catch(() => undefined)
    place.close()
    if (open.scratch !== undefined) rmSync(open.scratch, { recursive: true, force: true })
    await store.close()
  }
}
