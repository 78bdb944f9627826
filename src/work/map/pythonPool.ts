/**
 * The RangeMaker of a Python map job (`longhaul run gen.py`): worker
 * processes, not threads (CPU-bound Python scales with cores past the GIL),
 * each `python3 longhaul.py worker JOB` fed one range at a time over its
 * private channel (pythonProtocol.ts). A worker writes the range's files under
 * their staged names and returns their checksums and the items' hashes, as a
 * worker thread of a TypeScript job does; the runner commits them.
 *
 * A worker that dies (killed, out of memory, a crash in native code) is
 * replaced and its range made again, up to MAX_DEATHS times. Workers end when
 * their channel closes: at close(), and when the runner's process dies, even
 * by SIGKILL (on Linux the kernel also kills them with their parent).
 */
import { type ChildProcess, spawn } from 'node:child_process'
import type { Socket } from 'node:net'
import { availableParallelism } from 'node:os'
import { resolve } from 'node:path'
import { LonghaulError } from '../../errors.ts'
import { CHANNEL_FD, PYTHON, PYTHON_HELPER, pythonEnv, pythonFor, pythonRecordReader } from '../../job/pythonJob.ts'
import { SharedLimiter } from '../rateLimit/sharedLimiter.ts'
import { encode, type FromWorker, MessageReader, type ToWorker, taskMessage, toRangeResult } from './pythonProtocol.ts'
import type { MakerStart, RangeMaker } from './rangeMaker.ts'
import type { RangeResult, RangeTask } from './task.ts'
import type { PreparedPool } from './threadPool.ts'

/** A range whose worker died this many times fails the run: the range itself kills its worker. */
const MAX_DEATHS = 3
/** How often the run's stop flag is looked at, to pass it on to the workers. */
const STOP_POLL_MS = 50
/** How long close() waits for a worker to end after its channel closed, before it is killed. */
const EXIT_GRACE_MS = 2_000

/**
 * The worker processes start at once (all but one core's worth of them, at least one), and load Python, numpy and
 * the job while the run is opened and reconciled; each waits for its setup (the run's params, seed and data folder),
 * sent by start(), which starts the rest.
 */
export function preparePythonPool(jobPath: string, concurrency: number): PreparedPool {
  const pool = new PythonPool(resolve(jobPath), concurrency)
  return {
    abandon: () => pool.close(),
    start: async (how) => pool.start(how),
  }
}

interface Pending {
  readonly task: RangeTask
  deaths: number
  resolve(result: RangeResult): void
  reject(error: Error): void
}

interface Worker {
  readonly child: ChildProcess
  readonly channel: Socket
  readonly exited: Promise<void>
  /** Which of the pool's workers it is (a replacement takes the number of the one it replaces): its share of the concurrency. */
  readonly ordinal: number
  ready: boolean
  /** The ranges it is making, by their first item: one at a time, or two for an `async def item` with several in flight. */
  readonly current: Map<number, Pending>
}

class PythonPool implements RangeMaker {
  private readonly workers = new Set<Worker>()
  /** A worker once for each range it can take now. */
  private readonly idle: Worker[] = []
  /** Ranges a worker makes at once (MakerStart.rangesPerThread), known at start(). */
  private rangesPerWorker = 1
  private readonly waiting: Pending[] = []
  private stop = new Int32Array(new SharedArrayBuffer(4))
  private finished = new Int32Array(new SharedArrayBuffer(4))
  private timer: NodeJS.Timeout | undefined
  /** Set by start(): until then the workers load the job and wait for their setup. */
  private how: MakerStart | undefined
  private stopSent = false
  private closing = false
  private broken: Error | undefined
  /** Workers that died before their job loaded, in a row. */
  private failedStarts = 0
  /** An input job's records, read here and sent with each range (see docs/python.md, "Input jobs"). */
  private readRecords: ((start: number, end: number) => unknown[]) | undefined
  /** An error of a worker before start(): start() throws it. */
  private early: Error | undefined
  /** The run's rate limit, the same pacer a TypeScript job's threads share: every worker process's calls take their place here. */
  private limiter: SharedLimiter | undefined

  constructor(
    private readonly jobPath: string,
    concurrency: number,
  ) {
    // One core is left to this process while it opens the run: on two cores, the first worker loads alone, and
    // the first item waits for one start of Python and numpy, not two sharing a core. The rest start in start().
    const early = Math.max(1, Math.min(concurrency, availableParallelism() - 1))
    for (let i = 0; i < early; i++) this.spawnWorker(i)
  }

  /** The run is open: each worker gets its setup, and as many more start as `how.concurrency` asks. */
  start(how: MakerStart): RangeMaker {
    this.how = how
    if (this.early) {
      this.fail(this.early)
      throw this.early
    }
    this.stop = new Int32Array(how.setup.stop)
    this.finished = new Int32Array(how.setup.finished)
    this.limiter = new SharedLimiter(how.setup.rateLimit)
    this.rangesPerWorker = how.rangesPerThread ?? 1
    for (const worker of this.workers) for (let i = 1; i < this.rangesPerWorker; i++) this.idle.push(worker)
    this.readRecords = pythonRecordReader(this.jobPath, how.setup.inputHandle)
    for (const worker of this.workers) this.sendSetup(worker)
    for (let i = this.workers.size; i < how.concurrency; i++) this.spawnWorker(i)
    this.timer = setInterval(() => this.passOnStop(), STOP_POLL_MS)
    this.timer.unref()
    return this
  }

  make(task: RangeTask): Promise<RangeResult> {
    if (this.broken) return Promise.reject(this.broken)
    return new Promise((resolveResult, reject) => {
      this.waiting.push({ task, deaths: 0, resolve: resolveResult, reject })
      this.dispatch()
    })
  }

  async close(): Promise<void> {
    this.closing = true
    clearInterval(this.timer)
    const closed = new LonghaulError('LONGHAUL_ITEM_FAILED', 'the Python worker processes were closed')
    for (const pending of this.waiting.splice(0)) pending.reject(closed)
    await Promise.all(
      [...this.workers].map(async (worker) => {
        for (const pending of worker.current.values()) pending.reject(closed)
        worker.current.clear()
        // The worker ends as soon as its channel closes; one that does not (stuck in native code) is killed.
        worker.channel.destroy()
        const timer = setTimeout(() => worker.child.kill('SIGKILL'), EXIT_GRACE_MS)
        await worker.exited
        clearTimeout(timer)
      }),
    )
  }

  private dispatch(): void {
    while (this.idle.length > 0 && this.waiting.length > 0) {
      const worker = this.idle.shift()!
      const pending = this.waiting.shift()!
      const task = taskMessage(pending.task, this.readRecords)
      if (task.type === 'result') {
        this.idle.unshift(worker)
        pending.resolve(toRangeResult(task, Buffer.alloc(0)))
        continue
      }
      worker.current.set(pending.task.start, pending)
      this.send(worker, task)
    }
  }

  private send(worker: Worker, message: ToWorker): void {
    // A worker that died meanwhile is seen by its exit; what could not be sent is sent again to its replacement.
    if (!worker.channel.destroyed) worker.channel.write(encode(message))
  }

  /** Starts worker number `ordinal` (its share of the concurrency goes with it: a replacement takes its place). */
  private spawnWorker(ordinal: number): void {
    const child = spawn(pythonFor(this.jobPath), [PYTHON_HELPER, 'worker', this.jobPath], {
      env: pythonEnv(),
      // The job's prints go to stderr, with longhaul's own lines: stdout is for the command's result (--json).
      stdio: ['ignore', 2, 'inherit', 'pipe'],
      // Its own process group: Ctrl-C in the terminal reaches the runner, which stops the workers after their item.
      detached: true,
    })
    const channel = child.stdio[CHANNEL_FD] as Socket
    const exited = new Promise<void>((done) => child.once('close', () => done()))
    const worker: Worker = { child, channel, exited, ordinal, ready: false, current: new Map() }
    this.workers.add(worker)
    for (let i = 0; i < this.rangesPerWorker; i++) this.idle.push(worker)
    channel.on('error', () => undefined) // a dead worker's channel: its exit says what happened
    const reader = new MessageReader((message, itemHashes) => this.receive(worker, message, itemHashes))
    channel.on('data', (chunk: Buffer) => reader.push(chunk))
    child.on('error', (error: NodeJS.ErrnoException) =>
      this.fail(
        new LonghaulError(
          'LONGHAUL_ITEM_FAILED',
          error.code === 'ENOENT'
            ? `cannot start a Python worker: there is no ${PYTHON} on PATH`
            : `cannot start a Python worker: ${error.message}`,
        ),
      ),
    )
    child.on('exit', (code, signal) => this.died(worker, code, signal))
    if (this.how) {
      this.sendSetup(worker)
      this.dispatch()
    }
  }

  private sendSetup(worker: Worker): void {
    const { setup } = this.how!
    this.send(worker, {
      type: 'setup',
      params: setup.params,
      seed: setup.seed,
      retries: setup.retries,
      dataDir: setup.dataDir,
      runTag: setup.runTag,
      stop: Atomics.load(this.stop, 0) !== 0,
      // The process's concurrency over its workers, as over threads (64 over 3: 22, 21, 21).
      slots:
        Math.floor(setup.concurrency / setup.threads) + (worker.ordinal < setup.concurrency % setup.threads ? 1 : 0),
      limitedUnits: setup.rateLimit.limit.map((l) => l.unit),
      limitText: this.limiter!.text,
    })
  }

  private receive(worker: Worker, message: FromWorker, itemHashes?: Buffer): void {
    switch (message.type) {
      case 'ready':
        worker.ready = true
        this.failedStarts = 0
        return
      case 'broken':
        this.fail(
          new LonghaulError(
            'LONGHAUL_ITEM_FAILED',
            `the job failed to load in a Python worker process: ${message.message}${message.stack ? `\n${message.stack}` : ''}`,
          ),
        )
        return
      case 'finished':
        Atomics.add(this.finished, 0, message.count)
        return
      case 'take': {
        // The wait is counted now, as granted: a stop may cut it short, by at most a poll of the worker's.
        const waitMs = this.limiter!.reserve(message.amounts)
        this.limiter!.countWaited(waitMs)
        this.send(worker, {
          type: 'granted',
          id: message.id,
          atMs: performance.timeOrigin + performance.now() + waitMs,
        })
        return
      }
      case 'limited':
        this.limiter!.countLimited()
        this.limiter!.countWaited(message.waitMs)
        if (message.retryAfterMs !== null) {
          // Every worker holds its calls until then: those under the limit take their place after it (reserve), the
          // others are told.
          this.limiter!.pauseFor(message.retryAfterMs)
          for (const other of this.workers)
            if (other !== worker) this.send(other, { type: 'pause', ms: message.retryAfterMs })
        }
        return
      case 'result': {
        const pending = worker.current.get(message.start)
        worker.current.delete(message.start)
        this.idle.push(worker)
        pending?.resolve(toRangeResult(message, itemHashes!))
        this.dispatch()
        return
      }
    }
  }

  /** A worker ended: at close, as expected; otherwise it died, and is replaced, its range made again. */
  private died(worker: Worker, code: number | null, signal: NodeJS.Signals | null): void {
    this.workers.delete(worker)
    for (let at = this.idle.indexOf(worker); at >= 0; at = this.idle.indexOf(worker)) this.idle.splice(at, 1)
    if (this.closing || this.broken || this.early) return
    const how = signal ? `killed by ${signal}` : `exit code ${code}`
    // Its ranges are made again, in their order, by its replacement or another worker.
    const ranges = [...worker.current.values()].sort((a, b) => b.task.start - a.task.start)
    worker.current.clear()
    for (const pending of ranges) {
      pending.deaths++
      if (pending.deaths >= MAX_DEATHS) {
        pending.reject(
          new LonghaulError(
            'LONGHAUL_ITEM_FAILED',
            `the Python worker process making items ${pending.task.start}–${pending.task.end - 1} died ${pending.deaths} times (last: ${how}); an item of that range kills it (memory? native code?). Committed work is kept: run the same command to retry`,
          ),
        )
      } else this.waiting.unshift(pending)
    }
    if (!worker.ready && ++this.failedStarts >= MAX_DEATHS) {
      this.fail(
        new LonghaulError(
          'LONGHAUL_ITEM_FAILED',
          `Python worker processes end before the job loads (last: ${how}); see the output above`,
        ),
      )
      return
    }
    this.spawnWorker(worker.ordinal)
  }

  /** The maker cannot go on: the run fails with `error`, and every range waiting is settled with it. */
  private fail(error: Error): void {
    if (this.broken || this.closing) return
    if (!this.how) {
      this.early ??= error
      return
    }
    this.broken = error
    for (const pending of this.waiting.splice(0)) pending.reject(error)
    for (const worker of this.workers) {
      for (const pending of worker.current.values()) pending.reject(error)
      worker.current.clear()
    }
    this.how.onBroken(error)
  }

  private passOnStop(): void {
    if (this.stopSent || Atomics.load(this.stop, 0) === 0) return
    this.stopSent = true
    for (const worker of this.workers) this.send(worker, { type: 'stop' })
  }
}
