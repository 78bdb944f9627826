import { join } from 'node:path'
import { Worker } from 'node:worker_threads'
import { LonghaulError, NotDurableError, UsageError } from '../../errors.ts'
import { crashPoint } from '../../run/faults.ts'
import { type IdentifiedLoop, identifyLoop, type LaunchGate, type RunTarget } from '../../run/identify.ts'
import type { RunObserver } from '../../run/observer.ts'
import { type OpenedRunDir, openRunDir } from '../../run/openRun.ts'
import type { ProgressLoop } from '../../run/progressLoop.ts'
import { recordFailure } from '../../run/recordFailure.ts'
import { type RawRunSettings, resolveRunSettings } from '../../run/settings.ts'
import { OWNER, startSession } from '../../run/startSession.ts'
import { type RunSummary, sessionSummary } from '../../run/summary.ts'
import { Teardown } from '../../run/teardown.ts'
import {
  type CheckpointInfo,
  checkpointsToPrune,
  FINAL_FILE,
  type KeptCheckpoint,
  removeCheckpoints,
} from './checkpoints.ts'
import { type LoopFailure, type LoopSetup, type LoopThreadData, STOP } from './protocol.ts'
import { type RecoveredCheckpoints, recoverCheckpoints } from './recoverCheckpoints.ts'
import { ThreadInbox } from './threadInbox.ts'

/** runMapJob's options, for a loop: `total` is the number of steps; there is one thread, so no `workers`. */
export interface LoopRunOptions extends Omit<RawRunSettings, 'workers'>, RunTarget {
  /** Asked before anything is written, with total = steps; may refuse the run (invariant gate). @default none: a run started from code is not gated */
  readonly gate?: LaunchGate
  /** Checkpoint at least this often, ms. @default the loop's checkpointEvery.ms (60 s) */
  readonly checkpointEvery?: number
  /** Aborting it stops the run cleanly: the step in progress finishes, a checkpoint is written, the run is marked interrupted. */
  readonly signal?: AbortSignal
  readonly observer?: RunObserver
  readonly now?: () => number
}

/** runMapJob's summary, for a loop: `committed` counts the steps behind the newest durable checkpoint. */
export interface LoopRunSummary extends RunSummary {
  readonly kind: 'loop'
  /** The step this session started from: its newest checkpoint that verified, or 0 (init). */
  readonly startStep: number
  /** Checkpoints found corrupt and moved aside at the start of this session. */
  readonly corruptCheckpoints: number
  /** data/final.bin once complete, else null; `digest` is its sha256. */
  readonly finalFile: string | null
}

/**
 * LONGHAUL_LOOP_CHECKPOINT_STEPS: a checkpoint every N steps as well, whatever the loop says. Preflight sets it when a
 * loop's target runs too briefly for checkpoints by time to fall between its kills; it never changes the final state.
 */
const checkpointStepsFromEnvironment = (): number | undefined =>
  Number(process.env.LONGHAUL_LOOP_CHECKPOINT_STEPS) || undefined

/**
 * The loop's thread: the compiled loopWorker.js itself; from longhaul's own TypeScript sources (its tests),
 * loopThread.mjs, which first registers a TypeScript loader for them.
 */
const THREAD = import.meta.url.endsWith('.ts')
  ? new URL('./loopThread.mjs', import.meta.url)
  : new URL('./loopWorker.js', import.meta.url)

/**
 * Runs or resumes a loop job in `outDir` until its last step (state complete,
 * final.bin written, its sha256 the digest), the signal aborts it (a last
 * checkpoint, state interrupted), or the job's code fails (state failed).
 * Durable checkpoints always stay. The loop runs in a thread of its own; this
 * thread keeps the journal, the progress files, the heartbeat and the owner
 * lease, and prunes old checkpoints once a newer one is durable.
 */
export async function runLoopJob(options: LoopRunOptions): Promise<LoopRunSummary> {
  const now = options.now ?? Date.now
  const settings = resolveRunSettings({ ...options, workers: 1 })
  const { leaseTtlMs } = settings
  const startedAt = now()
  // The loop's thread starts now and loads the job while this one works out its identity and opens the run.
  const thread = new Worker(THREAD, { workerData: { jobPath: options.jobPath } satisfies LoopThreadData })
  const inbox = new ThreadInbox(thread)
  const open = await openLoopRun(options, leaseTtlMs, now).catch(async (error: unknown) => {
    await thread.terminate()
    throw error
  })
  const { job, params, seed, fingerprint, checkpointMs, store, paths, lease } = open
  // Undone last first: the listener, the thread (it writes under the lease), the progress loop, the lease, the journal.
  const teardown = new Teardown()
  teardown.defer(() => store.close())
  teardown.defer(() => store.releaseOwner(lease.token).catch(() => undefined))
  teardown.defer(() => progress?.stop())
  teardown.defer(() => thread.terminate())
  const total = open.run.total
  const stopFlag = new Int32Array(new SharedArrayBuffer(4))
  const finishedCounter = new SharedArrayBuffer(4)
  let failure: Error | undefined
  let progress: ProgressLoop | undefined
  // A failure (or a lost lease) abandons the loop: nothing more is written. A plain stop checkpoints first.
  const stop = (reason?: Error): void => {
    if (reason) {
      failure ??= reason
      Atomics.store(stopFlag, 0, STOP.abandon)
    } else Atomics.compareExchange(stopFlag, 0, STOP.no, STOP.checkpoint)
  }
  const onAbort = (): void => stop()
  try {
    const recovered = await recover(open, options.observer, now)
    const startStep = recovered.newest?.info.step ?? 0

    const session = await startSession({
      open,
      job: job.name,
      seed,
      settings,
      committed: startStep,
      unit: 'steps',
      startedAt,
      ...(recovered.newest && { detail: { checkpoint: recovered.newest.info.file } }),
      finished: finishedCounter,
      observer: options.observer,
      now,
      onLeaseError: (error) => stop(error),
    })
    const { tracker } = session
    progress = session.progress
    options.signal?.addEventListener('abort', onAbort, { once: true })
    teardown.defer(() => options.signal?.removeEventListener('abort', onAbort))
    if (options.signal?.aborted) stop()

    const payload = recovered.newest?.payload
    const setup: LoopSetup = {
      job: job.name,
      fingerprint,
      params,
      seed,
      steps: total,
      startStep,
      payload,
      dir: paths.data,
      checkpointSteps: checkpointStepsFromEnvironment() ?? job.checkpointEvery.steps,
      checkpointMs,
      stop: stopFlag.buffer as SharedArrayBuffer,
      finished: finishedCounter,
    }
    // The state's bytes move to the thread rather than being copied: a checkpoint may be large.
    thread.postMessage(setup, payload ? [payload.buffer] : [])

    let kept: KeptCheckpoint[] = [...recovered.kept]
    let lastStep = startStep
    let bytesWritten = 0
    let slowestItemMs = 0
    let retainedBytes: number | null = null
    const onCheckpoint = async (checkpoint: CheckpointInfo): Promise<void> => {
      bytesWritten += checkpoint.bytes
      const { step, file, bytes, sha256, payloadSha256, metrics } = checkpoint
      await store.addEvent('checkpoint', { step, file, bytes, sha256, payloadSha256, metrics }, now())
      progress!.committed(step - lastStep)
      lastStep = step
      const { committed, committedThisSession, lastCheckpointAt } = tracker
      options.observer?.committed?.({
        total,
        committed,
        committedThisSession,
        elapsedMs: now() - startedAt,
        lastCommitAt: lastCheckpointAt ?? now(),
      })
      kept = [...kept.filter((c) => c.file !== file), { file, step, metrics }]
      // The new checkpoint is durable and recorded; only now may older ones go.
      crashPoint('loop-checkpoint')
      const prune = checkpointsToPrune(kept, job.keep, job.best)
      if (prune.length === 0) return
      // Only the owner deletes: a process that was paused and lost its lease must not prune the new owner's checkpoints.
      await store.heartbeat(lease.token, OWNER, leaseTtlMs, now())
      removeCheckpoints(paths.data, prune)
      kept = kept.filter((c) => !prune.includes(c.file))
    }

    for (;;) {
      const news = await inbox.next()
      if (news.type === 'checkpoint') {
        slowestItemMs = news.slowestStepMs
        // After a failure (a lost lease above all) nothing more is recorded or pruned.
        if (!failure) await onCheckpoint(news.checkpoint)
        continue
      }
      if (news.type === 'failed') throw failure ?? loopFailureError(news.failure, job.name, lastStep)
      if (news.type === 'crashed')
        throw (
          failure ??
          new LonghaulError('LONGHAUL_ITEM_FAILED', `the thread of loop '${job.name}' failed: ${news.error.message}`, {
            cause: news.error,
          })
        )
      if (news.type === 'exited')
        throw (
          failure ??
          new LonghaulError(
            'LONGHAUL_ITEM_FAILED',
            `the thread of loop '${job.name}' ended (exit code ${news.code}) before the loop did`,
          )
        )
      if (failure) throw failure
      slowestItemMs = news.slowestStepMs
      if (news.type === 'stopped') {
        await store.setState('interrupted', now())
        await store.addEvent('interrupted', { committed: tracker.committed }, now())
        await progress.end('interrupted')
        return summary('interrupted', null)
      }
      bytesWritten += news.final.bytes
      retainedBytes = news.retainedBytes
      await store.setState('complete', now(), news.final.sha256)
      await store.addEvent(
        'complete',
        { committed: tracker.committed, digest: news.final.sha256, file: FINAL_FILE, bytes: news.final.bytes },
        now(),
      )
      await progress.end('complete')
      return summary('complete', news.final.sha256)
    }

    function summary(state: RunSummary['state'], digest: string | null): LoopRunSummary {
      const facts = {
        job: job.name,
        runId: open.run.runId,
        dir: paths.dir,
        state,
        total,
        committed: tracker.committed,
        committedThisSession: tracker.committedThisSession,
        bytesWritten,
        slowestItemMs,
        retainedBytes,
        digest,
        resumed: open.resumed,
      }
      return {
        ...sessionSummary(facts, startedAt, now()),
        kind: 'loop',
        startStep,
        corruptCheckpoints: recovered.corrupt.length,
        finalFile: digest ? join(paths.data, FINAL_FILE) : null,
      }
    }
  } catch (error) {
    stop(error as Error)
    const final = failure ?? (error as Error)
    await recordFailure(store, progress, final, now)
    throw final
  } finally {
    await teardown.close()
  }
}

/** A loop's run directory ready to work: the loop identified, its journal open, its lease held. */
interface OpenLoopRun extends OpenedRunDir, IdentifiedLoop {
  readonly checkpointMs: number
}

async function openLoopRun(options: LoopRunOptions, leaseTtlMs: number, now: () => number): Promise<OpenLoopRun> {
  const identified = await identifyLoop(options)
  const { job, params, seed, identity, fingerprint } = identified
  const checkpointMs = options.checkpointEvery ?? job.checkpointEvery.ms
  if (!(checkpointMs > 0)) throw new UsageError(`checkpointEvery must be above 0 ms, got ${checkpointMs}`)
  const open = await openRunDir(
    { ...options, leaseTtlMs, now },
    { kind: 'loop', name: job.name, params, seed, identity, fingerprint, defaultTotal: job.steps },
  )
  return { ...identified, ...open, checkpointMs }
}

/**
 * Finds the checkpoint to resume from (checkpoint-fallback): the newest that
 * verifies. Each one that fails is already moved aside; here it is written to
 * the journal as `checkpoint-corrupt` and told as a warning.
 */
async function recover(
  open: OpenLoopRun,
  observer: RunObserver | undefined,
  now: () => number,
): Promise<RecoveredCheckpoints> {
  const { paths, store, run } = open
  const recovered = recoverCheckpoints(paths.data, paths.quarantine, { fingerprint: open.fingerprint }, now())
  const startStep = recovered.newest?.info.step ?? 0
  if (startStep > run.total) {
    throw new UsageError(
      `${paths.data} holds a checkpoint at step ${startStep}, past the run's ${run.total} steps; pass --total ${startStep} or more, or --fresh to start over`,
    )
  }
  if (recovered.removedTemp)
    observer?.note?.(`removed ${recovered.removedTemp} unfinished checkpoint write(s) left by an earlier crash`)
  for (const bad of recovered.corrupt) {
    await store.addEvent(
      'checkpoint-corrupt',
      { file: bad.file, step: bad.step, reason: bad.reason, movedTo: bad.movedTo },
      now(),
    )
  }
  if (recovered.corrupt.length) {
    const from = recovered.newest
      ? `the checkpoint at step ${startStep} (${recovered.newest.info.file})`
      : 'the start (init), as no checkpoint verifies'
    const which = recovered.corrupt.map((bad) => `${bad.file} (${bad.reason})`).join(', ')
    observer?.note?.(`WARNING: corrupt checkpoint(s) moved to ${paths.quarantine}: ${which}; resuming from ${from}`)
  }
  return recovered
}

/** The error a failure reported by the loop's thread stands for. */
function loopFailureError(failure: LoopFailure, job: string, lastStep: number): Error {
  const cause = Object.assign(new Error(failure.message), failure.stack ? { stack: failure.stack } : {})
  switch (failure.kind) {
    case 'durability':
      return new NotDurableError(failure.where, cause)
    case 'load':
      return new UsageError(
        `the thread of loop '${job}' could not load it (${failure.where}): ${failure.message}`,
        'LONGHAUL_JOB_INVALID',
        { cause },
      )
    case 'job':
      return new LonghaulError(
        'LONGHAUL_ITEM_FAILED',
        `${failure.where} of loop '${job}' failed: ${failure.message}. ` +
          `${lastStep > 0 ? `The checkpoints are kept (the newest at step ${lastStep}): run the same command to resume from there.` : 'No checkpoint was written yet: the same command starts again from init.'} ` +
          `A change to the job's code makes it a different job, which --fresh starts in a clean folder (the old one is moved aside).`,
        { cause },
      )
  }
}
