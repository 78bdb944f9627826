/**
 * The loop's own thread: it holds the state, runs the steps, and writes the
 * checkpoints and final.bin durably. The coordinating thread records them in
 * the journal, prunes old checkpoints, and keeps the heartbeat and progress
 * going, so a step that blocks this thread for minutes never stops them.
 */
import { parentPort, workerData } from 'node:worker_threads'
import { NotDurableError } from '../../errors.ts'
import { isLoopJob, type LoopJob } from '../../job/defineLoop.ts'
import { loadAnyJob } from '../../job/loadJob.ts'
import { loopContext } from '../../job/loopContext.ts'
import { retainedMemoryProbe } from '../../run/retainedMemory.ts'
import { FINAL_FILE, type RecordedMetrics, writeCheckpoint, writeFinal } from './checkpoints.ts'
import { type LoopFailure, type LoopMessage, type LoopSetup, type LoopThreadData, STOP } from './protocol.ts'

/** The job's own code threw: `where` says what was running. */
class JobCodeError extends Error {
  constructor(
    readonly where: string,
    readonly original: unknown,
  ) {
    super(original instanceof Error ? original.message : String(original))
  }
}

/** A write that may not be durable: `what` names it, `cause` is the system's error. */
class WriteFailure extends Error {
  constructor(
    readonly what: string,
    cause: unknown,
  ) {
    super(cause instanceof Error ? cause.message : String(cause))
  }
}

function durably<T>(what: string, write: () => T): T {
  try {
    return write()
  } catch (error) {
    throw new WriteFailure(what, error instanceof NotDurableError ? error.cause : error)
  }
}

async function call<T>(where: string, fn: () => T | Promise<T>): Promise<T> {
  try {
    return await fn()
  } catch (error) {
    throw new JobCodeError(where, error)
  }
}

class LoopRunner {
  private readonly stop: Int32Array
  private readonly finished: Int32Array
  private slowestStepMs = 0
  private lastCheckpointStep: number
  private lastCheckpointAt = Date.now()
  /** The bytes of the last checkpoint: final.bin when no step followed it. */
  private lastPayload: Uint8Array | undefined

  constructor(
    private readonly job: LoopJob,
    private readonly setup: LoopSetup,
  ) {
    this.stop = new Int32Array(setup.stop)
    this.finished = new Int32Array(setup.finished)
    this.lastCheckpointStep = setup.startStep
    this.lastPayload = setup.payload
  }

  async run(): Promise<LoopMessage> {
    const { job, setup } = this
    const { steps, params, seed } = setup
    let step = setup.startStep
    // A run resumed at its last step needs no state, only its bytes.
    let state: unknown
    if (step < steps) {
      state = setup.payload
        ? await call(`load(bytes) of the checkpoint at step ${step}`, () => job.load(setup.payload!))
        : await call('init', () => job.init(params, loopContext(-1, steps, params, seed)))
    }
    let stepStarted = Date.now()
    while (step < steps && Atomics.load(this.stop, 0) === STOP.no) {
      const i = step
      state = await call(`step ${i}`, () => job.step(state, i, loopContext(i, steps, params, seed)))
      step++
      Atomics.add(this.finished, 0, 1)
      const ended = Date.now()
      this.slowestStepMs = Math.max(this.slowestStepMs, ended - stepStarted)
      stepStarted = ended
      if (step < steps && this.due(step, ended)) {
        await this.checkpoint(state, step)
        stepStarted = Date.now()
      }
    }
    const stopped = { type: 'stopped', step, slowestStepMs: this.slowestStepMs } as const
    if (Atomics.load(this.stop, 0) === STOP.abandon) return stopped
    // Always a checkpoint at the end, and at a stop, of whatever was done since the last one.
    if (step > this.lastCheckpointStep) await this.checkpoint(state, step)
    if (step < steps) return stopped
    const final = durably(`${FINAL_FILE} in ${setup.dir}`, () => writeFinal(setup.dir, this.lastPayload!))
    // What the thread holds at the end, the state included (preflight compares two scales).
    const retainedBytes = retainedMemoryProbe()?.().bytes ?? null
    return { type: 'complete', step, final, slowestStepMs: this.slowestStepMs, retainedBytes }
  }

  private due(step: number, now: number): boolean {
    const every = this.setup.checkpointSteps
    return (every !== undefined && step % every === 0) || now - this.lastCheckpointAt >= this.setup.checkpointMs
  }

  private async checkpoint(state: unknown, step: number): Promise<void> {
    const { job, setup } = this
    const payload = await call(`save(state) at step ${step}`, () => job.save(state))
    if (!(payload instanceof Uint8Array)) {
      throw new JobCodeError(
        `save(state) at step ${step}`,
        new TypeError(`save(state) must return a Uint8Array or a Buffer, got ${typeof payload}`),
      )
    }
    const metrics = job.metrics
      ? recordable(step, await call(`metrics(state) at step ${step}`, () => job.metrics!(state)))
      : {}
    const header = { job: setup.job, fingerprint: setup.fingerprint, step, metrics, savedAt: new Date().toISOString() }
    const checkpoint = durably(`the checkpoint of step ${step} in ${setup.dir}`, () =>
      writeCheckpoint(setup.dir, header, payload),
    )
    this.lastCheckpointStep = step
    this.lastCheckpointAt = Date.now()
    this.lastPayload = payload
    parentPort!.postMessage({ type: 'checkpoint', checkpoint, slowestStepMs: this.slowestStepMs } satisfies LoopMessage)
  }
}

/** Metrics as a checkpoint records them: numbers, with a value that is not finite (a diverged loss) kept as null. */
function recordable(step: number, metrics: Record<string, number>): RecordedMetrics {
  const recorded: Record<string, number | null> = {}
  for (const [name, value] of Object.entries(metrics ?? {})) {
    if (typeof value !== 'number') {
      throw new JobCodeError(
        `metrics(state) at step ${step}`,
        new TypeError(`metrics(state) must return numbers; '${name}' is ${typeof value}`),
      )
    }
    recorded[name] = Number.isFinite(value) ? value : null
  }
  return recorded
}

function failure(error: unknown): LoopFailure {
  if (error instanceof JobCodeError) {
    const original = error.original instanceof Error ? error.original : undefined
    return {
      kind: 'job',
      where: error.where,
      message: error.message,
      ...(original?.stack && { stack: original.stack }),
    }
  }
  if (error instanceof WriteFailure) return { kind: 'durability', where: error.what, message: error.message }
  const e = error instanceof Error ? error : new Error(String(error))
  return { kind: 'job', where: 'the loop', message: e.message, ...(e.stack && { stack: e.stack }) }
}

async function main(): Promise<LoopMessage> {
  const { jobPath } = workerData as LoopThreadData
  // The job loads while the coordinating thread opens the run; the setup comes once it has.
  const setup = new Promise<LoopSetup>((resolve) => parentPort!.once('message', resolve))
  let job: unknown
  try {
    job = await loadAnyJob(jobPath)
  } catch (error) {
    return { type: 'failed', failure: { kind: 'load', where: `loading ${jobPath}`, message: (error as Error).message } }
  }
  if (!isLoopJob(job))
    return {
      type: 'failed',
      failure: { kind: 'load', where: `loading ${jobPath}`, message: 'its default export is not a loop job' },
    }
  return new LoopRunner(job, await setup).run()
}

main().then(
  (message) => parentPort!.postMessage(message),
  (error: unknown) => parentPort!.postMessage({ type: 'failed', failure: failure(error) } satisfies LoopMessage),
)
