import { join } from 'node:path'
import { Worker } from 'node:worker_threads'
import { LonghaulError, NotDurableError, UsageError } from '../../errors.ts'
import { crashPoint } from '../../run/faults.ts'
import { type IdentifiedLoop, identifyLoop, type LaunchGate, type RunTarget } from '../../run/identify.ts'
import { driveRun, type Work } from '../../run/lifecycle.ts'
import type { RunObserver } from '../../run/observer.ts'
import { type OpenedRunDir, openRunDir } from '../../run/openRun.ts'
import { localRole } from '../../run/role.ts'
import { type RawRunSettings, type RunSettings, resolveRunSettings } from '../../run/settings.ts'
import { OWNER } from '../../run/startSession.ts'
import { type RunSummary, sessionSummary } from '../../run/summary.ts'
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
  const settings = resolveRunSettings({ ...options, workers: 1 })
  const role = localRole(OWNER, (s: RunSettings) => openLoopRun(options, s.leaseTtlMs, s.now))
  return await driveRun(loopWork(options), role, { settings, signal: options.signal, observer: options.observer })
}

/**
 * A loop's work: its thread, started while the run is opened, resumes from
 * the newest checkpoint that verifies; each checkpoint it makes durable is
 * recorded, and older ones are pruned after it; its last step writes
 * final.bin, whose sha256 is the run's digest.
 */
function loopWork(options: LoopRunOptions): Work<OpenLoopRun, LoopRunSummary> {
  const observer = options.observer
  const stopFlag = new Int32Array(new SharedArrayBuffer(4))
  const finishedCounter = new SharedArrayBuffer(4)
  let thread: Worker | undefined
  let recovered: RecoveredCheckpoints | undefined
  let startStep = 0
  let bytesWritten = 0
  let slowestItemMs = 0
  let retainedBytes: number | null = null
  return {
    // The loop's thread starts now and loads the job while this one works out its identity and opens the run.
    begin: () => {
      thread = new Worker(THREAD, { workerData: { jobPath: options.jobPath } satisfies LoopThreadData })
    },
    abandon: async () => {
      await thread?.terminate()
    },
    // A failure (or a lost lease) abandons the loop: nothing more is written. A plain stop checkpoints first.
    halt: (reason) => {
      if (reason) Atomics.store(stopFlag, 0, STOP.abandon)
      else Atomics.compareExchange(stopFlag, 0, STOP.no, STOP.checkpoint)
    },
    async reconcile({ open, now, teardown }) {
      // The thread writes under the lease: it ends before the progress loop and the lease.
      teardown.defer(() => thread?.terminate())
      recovered = await recover(open, observer, now)
      startStep = recovered.newest?.info.step ?? 0
      return {
        job: open.job.name,
        seed: open.seed,
        committed: startStep,
        unit: 'steps',
        ...(recovered.newest && { detail: { checkpoint: recovered.newest.info.file } }),
        finished: finishedCounter,
      }
    },
    async drive(session) {
      const { open, tracker, settings, now } = session
      const { job, params, seed, fingerprint, checkpointMs, store, paths, lease } = open
      const total = open.run.total
      const inbox = new ThreadInbox(thread!)
      const payload = recovered!.newest?.payload
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
      thread!.postMessage(setup, payload ? [payload.buffer] : [])

      let kept: KeptCheckpoint[] = [...recovered!.kept]
      let lastStep = startStep
      const onCheckpoint = async (checkpoint: CheckpointInfo): Promise<void> => {
        bytesWritten += checkpoint.bytes
        const { step, file, bytes, sha256, payloadSha256, metrics } = checkpoint
        await store.addEvent('checkpoint', { step, file, bytes, sha256, payloadSha256, metrics }, now())
        session.committed(step - lastStep)
        lastStep = step
        kept = [...kept.filter((c) => c.file !== file), { file, step, metrics }]
        // The new checkpoint is durable and recorded; only now may older ones go.
        crashPoint('loop-checkpoint')
        const prune = checkpointsToPrune(kept, job.keep, job.best)
        if (prune.length === 0) return
        // Only the owner deletes: a process that was paused and lost its lease must not prune the new owner's checkpoints.
        await store.heartbeat(lease.token, OWNER, settings.leaseTtlMs, now())
        removeCheckpoints(paths.data, prune)
        kept = kept.filter((c) => !prune.includes(c.file))
      }

      for (;;) {
        const news = await inbox.next()
        const failure = session.failure
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
            new LonghaulError(
              'LONGHAUL_ITEM_FAILED',
              `the thread of loop '${job.name}' failed: ${news.error.message}`,
              {
                cause: news.error,
              },
            )
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
        if (news.type === 'stopped') return { state: 'interrupted', detail: { committed: tracker.committed } }
        bytesWritten += news.final.bytes
        retainedBytes = news.retainedBytes
        const digest = news.final.sha256
        return {
          state: 'complete',
          finalDigest: digest,
          detail: { committed: tracker.committed, digest, file: FINAL_FILE, bytes: news.final.bytes },
        }
      }
    },
    result(session, ending) {
      const { open, tracker } = session
      const digest = ending.detail.digest ?? null
      const facts = {
        job: open.job.name,
        runId: open.run.runId,
        dir: open.paths.dir,
        state: ending.state === 'complete' ? ('complete' as const) : ('interrupted' as const),
        total: open.run.total,
        committed: tracker.committed,
        committedThisSession: tracker.committedThisSession,
        bytesWritten,
        slowestItemMs,
        retainedBytes,
        digest,
        resumed: open.resumed,
      }
      return {
        ...sessionSummary(facts, session.startedAt, session.now()),
        kind: 'loop',
        startStep,
        corruptCheckpoints: recovered!.corrupt.length,
        finalFile: digest ? join(open.paths.data, FINAL_FILE) : null,
      }
    },
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
