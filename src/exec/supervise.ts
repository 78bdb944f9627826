import { createHash, randomUUID } from 'node:crypto'
import { accessSync, constants, statSync } from 'node:fs'
import { basename, delimiter, join, resolve } from 'node:path'
import type { Writable } from 'node:stream'
import { setTimeout as sleep } from 'node:timers/promises'
import stringify from 'safe-stable-stringify'
import { FingerprintMismatchError, UsageError } from '../errors.ts'
import { crashPoint } from '../runner/faults.ts'
import { takeOwnership } from '../runner/ownership.ts'
import { prepareRunDir } from '../runner/runDir.ts'
import { openStore } from '../store/openStore.ts'
import type { RunEventDetails, RunEventType, RunRecord, Store } from '../store/store.ts'
import { ProgressFiles } from '../telemetry/progressFiles.ts'
import { duration } from '../telemetry/progressText.ts'
import { ProgressTracker } from '../telemetry/progressTracker.ts'
import type { ProgressSnapshot } from '../telemetry/snapshot.ts'
import { type EventsChannel, openEventsChannel } from './channel.ts'
import { CheckpointFinder, type FoundCheckpoint } from './checkpoints.ts'
import { stopOrphan, stopOrphanBeforeFresh } from './orphan.ts'
import { type ProgramExit, type RunningProgram, resumeArgs, startProgram } from './program.ts'
import { type ExecEvent, RESUME_ENV } from './protocol.ts'
import type { TqdmProgress } from './tqdm.ts'
import { Watchdog } from './watchdog.ts'

export interface ExecOptions {
  readonly command: string
  readonly args: readonly string[]
  /** The run directory: journal, progress.json, PROGRESS.txt. */
  readonly outDir: string
  /** @default process.cwd() */
  readonly cwd?: string
  /** @default the script's or command's file name */
  readonly name?: string
  /** Restarts after a crash (non-zero exit or a signal). @default 0 */
  readonly restarts?: number
  /** Where the program writes its checkpoints, relative to cwd. */
  readonly checkpoints?: string
  /** Arguments added on a restart, `{checkpoint}` replaced by the newest checkpoint's path. */
  readonly resumeArg?: string
  /** The amount of work, when the program does not say. */
  readonly total?: number
  /** Move an earlier run in outDir aside and start over. */
  readonly fresh?: boolean
  /** @default 300_000 */
  readonly stallAfterMs?: number
  /** @default 10_000 */
  readonly progressEveryMs?: number
  /** @default 10_000 */
  readonly heartbeatMs?: number
  /** How long a program asked to stop may take before it is killed. @default 10_000 */
  readonly graceMs?: number
  /** Wait before the first restart; doubled for each next one, at most a minute. @default 1_000 */
  readonly restartDelayMs?: number
  /** Aborting forwards the abort's reason (a signal name, else SIGTERM) to the program. */
  readonly signal?: AbortSignal
  readonly observer?: ExecObserver
  readonly env?: NodeJS.ProcessEnv
  readonly stdout?: Writable
  readonly stderr?: Writable
  readonly now?: () => number
}

export interface ExecObserver {
  /** A fresh snapshot, as just written to progress.json. */
  progress?(snapshot: ProgressSnapshot, reason: 'tick' | 'checkpoint' | 'state'): void
  /** Something the owner should read: a restart, a stall, a kill. */
  note?(message: string): void
}

export interface ExecResult {
  readonly job: string
  readonly runId: string
  readonly dir: string
  readonly state: 'complete' | 'failed' | 'interrupted'
  /** longhaul exec's exit code: 0 complete, 130 interrupted, else the program's last (128 + n for signal n). */
  readonly exitCode: number
  /** The program's own last exit code, as the shell would show it; null if it never ran. */
  readonly programExitCode: number | null
  /** Times the program was started this session. */
  readonly lives: number
  readonly checkpoint: string | null
  readonly malformedLines: number
  /** Why it failed, when it did. */
  readonly error: string | null
}

/** What makes an exec run the same run: resuming it with another command is refused. */
interface ExecIdentity {
  readonly kind: 'exec'
  readonly job: string
  readonly command: string
  readonly args: readonly string[]
  readonly cwd: string
}

const LEASE_TTL_MS = 30_000
const MAX_RESTART_DELAY_MS = 60_000
/** Protocol log lines kept in the journal per session; more are counted, not kept. */
const MAX_LOG_EVENTS = 1_000

/**
 * `longhaul exec`: runs any program under supervision. Its progress (the
 * protocol's lines, else the tqdm bars it prints) becomes the same telemetry
 * as a map job's; a crash restarts it from its newest checkpoint, up to
 * `restarts` times; an abort is forwarded to it, and it is SIGKILLed if it
 * has not stopped after `graceMs`. Resolves with the program's fate and exit
 * code; throws a UsageError (before starting anything) for bad options, a
 * different command in the run directory, or a program that cannot start.
 */
export async function superviseProgram(options: ExecOptions): Promise<ExecResult> {
  const now = options.now ?? Date.now
  const cwd = resolve(options.cwd ?? process.cwd())
  const restarts = options.restarts ?? 0
  if (!options.command)
    throw new UsageError('no program to run: put it after --, e.g. longhaul exec -- python3 train.py')
  if (!Number.isSafeInteger(restarts) || restarts < 0)
    throw new UsageError(`--restarts must be a whole number of at least 0, got ${restarts}`)
  if (options.resumeArg !== undefined && !options.resumeArg.includes('{checkpoint}')) {
    throw new UsageError(
      `--resume-arg must contain {checkpoint}, where the checkpoint's path goes (e.g. '--resume {checkpoint}'); got '${options.resumeArg}'`,
    )
  }
  assertRunnable(options.command, cwd, options.env ?? process.env)
  if (options.name !== undefined && !/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(options.name)) {
    throw new UsageError(
      `--name '${options.name}' must be letters, digits, '.', '_' or '-' (it names the run and its folder under runs/)`,
    )
  }
  const identity: ExecIdentity = {
    kind: 'exec',
    job: options.name ?? programName(options.command, options.args),
    command: options.command,
    args: options.args,
    cwd,
  }
  const fingerprint = createHash('sha256')
    .update(stringify(identity) ?? '')
    .digest('hex')

  const note = (message: string): void => options.observer?.note?.(message)
  if (options.fresh) await stopOrphanBeforeFresh(options.outDir, LEASE_TTL_MS, options.graceMs ?? 10_000, note)
  const { paths, movedTo } = prepareRunDir(options.outDir, options.fresh ?? false, new Date(now()))
  const store = await openStore({ file: paths.journal })
  let lease: Awaited<ReturnType<typeof takeOwnership>> | undefined
  try {
    let run = await store.getRun()
    if (run && run.fingerprint !== fingerprint) {
      throw new FingerprintMismatchError(options.outDir, [differences(run, identity)])
    }
    const resumed = run !== undefined
    if (!run) {
      // The journal wants a positive total; the program's own count, and its total when it says, live in progress.json.
      await store.createRun({
        runId: randomUUID(),
        job: identity.job,
        fingerprint,
        identity: JSON.stringify(identity),
        total: options.total ?? 1,
        kind: 'exec',
        createdAt: now(),
      })
      run = (await store.getRun())!
    }
    lease = await takeOwnership(store, options.outDir, LEASE_TTL_MS, now())
    // One copy at a time: a program its killed supervisor left running is stopped before anything else happens.
    await stopOrphan(store, options.outDir, options.graceMs ?? 10_000, note)
    if (run.state === 'complete') {
      options.observer?.note?.(`${options.outDir} holds a completed run of this command; pass --fresh to run it again`)
      return {
        job: identity.job,
        runId: run.runId,
        dir: paths.dir,
        state: 'complete',
        exitCode: 0,
        programExitCode: null,
        lives: 0,
        checkpoint: null,
        malformedLines: 0,
        error: null,
      }
    }
    if (movedTo) options.observer?.note?.(`the previous run was moved to ${movedTo}`)
    const supervisor = new Supervisor(options, {
      store,
      dir: paths.dir,
      runId: run.runId,
      job: identity.job,
      leaseToken: lease.token,
      cwd,
      now,
      resumed,
      lease,
      createdAt: run.createdAt,
    })
    return await supervisor.run()
  } finally {
    if (lease) await store.releaseOwner(lease.token).catch(() => undefined)
    await store.close()
  }
}

interface SupervisorContext {
  readonly store: Store
  readonly dir: string
  readonly runId: string
  readonly job: string
  readonly leaseToken: number
  readonly cwd: string
  readonly now: () => number
  readonly resumed: boolean
  readonly lease: { readonly pid: number; readonly host: string }
  /** When the run was created (its first session). */
  readonly createdAt: number
}

/** One session of an exec run: the program's lives, their telemetry, and the journal's account of them. */
class Supervisor {
  private readonly tracker: ProgressTracker
  private readonly files: ProgressFiles
  private readonly finder: CheckpointFinder
  private readonly metrics = new Map<string, { value: number | null; step: number | null }>()
  private metricsDirty = false
  private dirty = false
  /** When the last interval line was given (the files are rewritten more often, on every change). */
  private lastInterval = 0
  private lastHeartbeat: number
  private lastCheckpoint: FoundCheckpoint | undefined
  private logEvents = 0
  /** Malformed lines of the lives that ended. */
  private malformed = 0
  private program: RunningProgram | undefined
  private protocolProgress = false
  private bar: { desc: string | null; withTotal: boolean } | undefined
  private stopping: NodeJS.Signals | undefined
  private killTimer: NodeJS.Timeout | undefined
  private readonly stopWaiting = new AbortController()
  private readonly journalWrites = new Set<Promise<void>>()
  private watchdog: Watchdog | undefined
  /** Heartbeat, stall clock and progress files; started when the program is first let run (its silence counts from there). */
  private ticker: NodeJS.Timeout | undefined
  /** The first life's channel, made before the clocks start (making a FIFO takes a process of its own). */
  private firstChannel: EventsChannel | undefined

  constructor(
    private readonly o: ExecOptions,
    private readonly c: SupervisorContext,
  ) {
    const startedAt = c.now()
    this.tracker = new ProgressTracker({
      job: c.job,
      runId: c.runId,
      total: o.total ?? null,
      committed: 0,
      workers: 1,
      startedAt,
      stallAfterMs: o.stallAfterMs ?? 300_000,
      refreshMs: this.progressEveryMs,
      heartbeatMs: this.heartbeatMs,
      owner: c.lease,
    })
    this.files = new ProgressFiles(c.dir)
    // mtimes have a coarser clock than Date.now on some file systems: a second of slack.
    this.finder = new CheckpointFinder(o.checkpoints, c.cwd, c.createdAt - 1_000)
    this.lastHeartbeat = startedAt
  }

  private get progressEveryMs(): number {
    return this.o.progressEveryMs ?? 10_000
  }

  private get heartbeatMs(): number {
    return this.o.heartbeatMs ?? 10_000
  }

  async run(): Promise<ExecResult> {
    const { store, now } = this.c
    const restarts = this.o.restarts ?? 0
    let resumeFrom = this.c.resumed ? await this.checkpointOfEarlierSession() : undefined
    await store.setState('running', now())
    await store.addEvent(
      this.c.resumed ? 'resumed' : 'started',
      { command: [this.o.command, ...this.o.args], restarts, pid: process.pid },
      now(),
    )
    // Set up before the stall clock starts: a program is not silent while longhaul prepares to start it.
    this.watchdog = Watchdog.start(this.o.graceMs ?? 10_000)
    this.firstChannel = await openEventsChannel().catch((error: unknown) => {
      this.watchdog?.end()
      throw error
    })
    const onAbort = (): void =>
      this.stop(
        typeof this.o.signal?.reason === 'string' && this.o.signal.reason.startsWith('SIG')
          ? (this.o.signal.reason as NodeJS.Signals)
          : 'SIGTERM',
      )
    this.o.signal?.addEventListener('abort', onAbort, { once: true })
    this.publish('state')
    this.lastInterval = this.c.now()
    let lives = 0
    let exit: ProgramExit | undefined
    try {
      if (this.o.signal?.aborted) onAbort()
      while (!this.stopping) {
        lives++
        exit = await this.live(lives, resumeFrom)
        this.flushMetrics()
        if (exit.exitCode === 0 && !this.stopping) return await this.finish('complete', exit, lives, null)
        if (this.stopping) break
        const restart = lives - 1
        const how = exit.signal ? `was killed by ${exit.signal}` : `exited with code ${exit.code}`
        if (restart >= restarts) {
          const error =
            `the program ${how}` +
            (restarts > 0
              ? `; gave up after ${restarts} restart${restarts === 1 ? '' : 's'} (--restarts ${restarts})`
              : ' (no restarts: pass --restarts N to restart it from its checkpoint)')
          return await this.finish('failed', exit, lives, error)
        }
        resumeFrom = this.finder.newest(exit.at)
        const delay = Math.min(MAX_RESTART_DELAY_MS, (this.o.restartDelayMs ?? 1_000) * 2 ** restart)
        await this.event('restarting', {
          life: lives,
          after: how,
          exitCode: exit.exitCode,
          delayMs: delay,
          checkpoint: resumeFrom?.path ?? null,
        })
        this.note(
          `the program ${how}; restarting it (${restart + 1} of ${restarts}) in ${duration(delay / 1000)}` +
            (resumeFrom ? ` from ${resumeFrom.path}` : ', from the start: no checkpoint found'),
        )
        await sleep(delay, undefined, { signal: this.stopWaiting.signal }).catch(() => undefined)
      }
      return await this.finish('interrupted', exit, lives, null)
    } catch (error) {
      await this.finish('failed', exit, lives, (error as Error).message).catch(() => undefined)
      throw error
    } finally {
      clearInterval(this.ticker)
      clearTimeout(this.killTimer)
      this.watchdog?.end()
      this.firstChannel?.discard()
      this.o.signal?.removeEventListener('abort', onAbort)
      await Promise.allSettled([...this.journalWrites])
    }
  }

  /** Starts the program once and waits for it to end. */
  private async live(life: number, resumeFrom: FoundCheckpoint | undefined): Promise<ProgramExit> {
    const args = [
      ...this.o.args,
      ...(resumeFrom && this.o.resumeArg ? resumeArgs(this.o.resumeArg, resumeFrom.path) : []),
    ]
    const env: NodeJS.ProcessEnv = { ...(this.o.env ?? process.env) }
    // Python buffers a pipe's output in blocks: lines would reach the log, and bars the parser, minutes late.
    env.PYTHONUNBUFFERED ??= '1'
    if (resumeFrom) env[RESUME_ENV] = resumeFrom.path
    else delete env[RESUME_ENV]
    const channel = this.firstChannel ?? (await openEventsChannel())
    this.firstChannel = undefined
    this.program = await startProgram(
      {
        command: this.o.command,
        args,
        cwd: this.c.cwd,
        env,
        channel,
        stdout: this.o.stdout ?? process.stdout,
        stderr: this.o.stderr ?? process.stderr,
        onEvent: (event) => this.onEvent(event),
        onBar: (bar) => this.onBar(bar),
      },
      this.c.now,
    )
    const { pid, startTime } = this.program
    // A resumed program reports from its checkpoint: the rate counts from its first report, not from 0.
    this.tracker.rebase()
    // A forced exit of longhaul (a second Ctrl-C) must not leave the program running unsupervised.
    const killOnExit = (): void => this.program?.send('SIGKILL')
    process.on('exit', killOnExit)
    try {
      // Held at its gate, it has done nothing yet. Its death is tied to ours, and its pid and start time are journaled,
      // before it runs: a supervisor killed at any instant leaves either nothing run, or a program the next exec finds.
      this.watchdog?.watch(pid)
      let go = false
      try {
        crashPoint('program-spawned')
        await this.c.store.addEvent(
          'program-started',
          { life, pid, startTime, host: this.c.lease.host, args, checkpoint: resumeFrom?.path ?? null },
          this.c.now(),
        )
        // A stop asked while it was starting: it never runs.
        go = !this.stopping
      } finally {
        this.program.release(go)
      }
      this.ticker ??= setInterval(() => this.tick(), Math.min(1_000, this.progressEveryMs, this.heartbeatMs))
      const exit = await this.program.exited
      await this.stopLeftovers(this.program)
      const { protocol, bars } = this.program.malformed()
      this.malformed += protocol + bars
      this.watchdog?.clear()
      await this.event('program-exited', {
        life,
        pid,
        code: exit.code,
        signal: exit.signal,
        malformedLines: this.malformed,
      })
      return exit
    } finally {
      this.program = undefined
      process.off('exit', killOnExit)
      clearTimeout(this.killTimer)
    }
  }

  /**
   * Processes the program started and left behind when it ended (a data loader's workers, a background job) would race
   * the next life on the same files: its process group gets SIGTERM, then SIGKILL after the grace period.
   */
  private async stopLeftovers(program: RunningProgram): Promise<void> {
    if (!program.groupAlive()) return
    const graceMs = this.o.graceMs ?? 10_000
    this.note(
      `the program ended but processes it started are still running; stopping them (SIGTERM, SIGKILL after ${duration(graceMs / 1000)})`,
    )
    program.send('SIGTERM')
    const deadline = this.c.now() + graceMs
    while (program.groupAlive() && this.c.now() < deadline) await sleep(100)
    if (program.groupAlive()) program.send('SIGKILL')
    await this.event('leftovers-stopped', { pid: program.pid, killed: program.groupAlive() })
  }

  private stop(signal: NodeJS.Signals): void {
    if (this.stopping) return
    this.stopping = signal
    this.stopWaiting.abort()
    this.forwardStop(signal)
  }

  /** Forwards a stop to the living program; kills it if it has not ended after the grace period. */
  private forwardStop(signal: NodeJS.Signals): void {
    const program = this.program
    if (!program || this.killTimer) return
    program.send(signal)
    const graceMs = this.o.graceMs ?? 10_000
    this.killTimer = setTimeout(() => {
      this.note(`the program did not stop within ${duration(graceMs / 1000)} of ${signal}; killing it (SIGKILL)`)
      void this.event('program-killed', { pid: program.pid, graceMs, signal })
      program.send('SIGKILL')
    }, graceMs)
  }

  private onEvent(event: ExecEvent): void {
    const now = this.c.now()
    switch (event.type) {
      case 'progress':
        this.protocolProgress = true
        if (event.unit) this.tracker.unit = event.unit
        this.moved(this.tracker.position(event.done, event.total ?? this.o.total ?? null, now))
        return
      case 'checkpoint': {
        const found = this.finder.announce(event.path, event.step)
        if (found) this.checkpointed(found)
        else this.note(`the program announced checkpoint ${event.path}, which does not exist; ignored`)
        return
      }
      case 'metric':
        this.metrics.set(event.name, { value: event.value, step: event.step })
        this.metricsDirty = true
        return
      case 'log':
        if (++this.logEvents <= MAX_LOG_EVENTS) void this.event('log', { level: event.level, message: event.message })
        return
    }
  }

  /**
   * A tqdm bar updated. The protocol wins when the program speaks it; else the
   * first bar seen with a total is followed (the outermost of nested bars),
   * or the first bar at all while none has a total.
   */
  private onBar(bar: TqdmProgress): void {
    if (this.protocolProgress) return
    const withTotal = bar.total !== null
    if (!this.bar || (withTotal && !this.bar.withTotal)) this.bar = { desc: bar.desc, withTotal }
    if (bar.desc !== this.bar.desc || withTotal !== this.bar.withTotal) return
    if (bar.unit !== 'it') this.tracker.unit = bar.unit
    this.moved(this.tracker.position(bar.done, bar.total ?? this.o.total ?? null, this.c.now()))
  }

  private moved(change: 'stalled' | 'recovered' | undefined): void {
    this.dirty = true
    if (change) this.stallChanged(change)
  }

  private checkpointed(found: FoundCheckpoint): void {
    if (this.lastCheckpoint?.path === found.path && this.lastCheckpoint.mtimeMs === found.mtimeMs) return
    this.lastCheckpoint = found
    this.tracker.checkpointed(this.c.now())
    void this.event('checkpoint', { path: found.path, step: found.step, source: found.source })
    this.publish('checkpoint')
  }

  private tick(): void {
    const now = this.c.now()
    const change = this.tracker.quiet(now)
    if (change) this.stallChanged(change)
    if (this.program) {
      const found = this.finder.newest(now)
      if (found) this.checkpointed(found)
    }
    if (now - this.lastHeartbeat >= this.heartbeatMs) {
      this.lastHeartbeat = now
      // The files carry the heartbeat once it is renewed: a reader judges liveness by it.
      void this.journal(
        this.c.store.heartbeat(this.c.leaseToken, 'exec', LEASE_TTL_MS, now).then(() => {
          this.tracker.heartbeat(now)
          this.dirty = true
        }),
      )
    }
    if (now - this.lastInterval >= this.progressEveryMs - 500) {
      this.lastInterval = now
      this.publish('tick')
      this.flushMetrics()
    } else if (this.dirty) {
      this.publish('state')
    }
  }

  private stallChanged(change: 'stalled' | 'recovered'): void {
    const quiet = this.tracker.snapshot(this.c.now()).stalledForSeconds
    void this.event(change, change === 'stalled' ? { quietSeconds: quiet } : {})
    this.note(
      change === 'stalled'
        ? `STALLED: the program is alive but has reported no progress for ${duration(quiet ?? 0)}`
        : 'the program is making progress again',
    )
    this.publish('state')
  }

  private flushMetrics(): void {
    if (!this.metricsDirty) return
    this.metricsDirty = false
    void this.event('metrics', Object.fromEntries(this.metrics))
  }

  private publish(reason: 'tick' | 'checkpoint' | 'state'): void {
    const now = this.c.now()
    this.dirty = false
    const snapshot = this.tracker.snapshot(now)
    this.files.write(snapshot, now)
    if (reason === 'tick') this.program?.breakLine()
    this.o.observer?.progress?.(snapshot, reason)
  }

  /** A note for the owner, on a line of its own even in the middle of the program's redrawn bar. */
  private note(message: string): void {
    this.program?.breakLine()
    this.o.observer?.note?.(message)
  }

  private async finish(
    state: 'complete' | 'failed' | 'interrupted',
    exit: ProgramExit | undefined,
    lives: number,
    error: string | null,
  ): Promise<ExecResult> {
    const { store, now } = this.c
    this.flushMetrics()
    await Promise.allSettled([...this.journalWrites])
    await store.setState(state, now())
    // DESIGN §2: interrupted is 130 whatever the program returned on its way out; a failure is never 0.
    const exitCode =
      state === 'complete' ? 0 : state === 'interrupted' ? 130 : exit && exit.exitCode !== 0 ? exit.exitCode : 1
    const programExitCode = exit?.exitCode ?? null
    await store.addEvent(state, { exitCode, programExitCode, lives, ...(error && { error }) }, now())
    this.tracker.end(state, error ?? undefined)
    this.publish('state')
    return {
      job: this.c.job,
      runId: this.c.runId,
      dir: this.c.dir,
      state,
      exitCode,
      lives,
      checkpoint: this.lastCheckpoint?.path ?? null,
      malformedLines: this.malformedLines(),
      error,
      programExitCode,
    }
  }

  /**
   * On resume: the last checkpoint the program announced, if its file is still there, else the glob's newest, judged at
   * the moment the program last ended (what it was writing then is what may be cut short), or now if that is unknown.
   */
  private async checkpointOfEarlierSession(): Promise<FoundCheckpoint | undefined> {
    const events = await this.c.store.events()
    const last = events.findLast((e) => e.type === 'checkpoint' && e.detail.source === 'protocol')
    if (last)
      this.finder.announce(String(last.detail.path), typeof last.detail.step === 'number' ? last.detail.step : null)
    const lastStart = events.findLast((e) => e.type === 'program-started')
    const lastExit = events.findLast((e) => e.type === 'program-exited')
    const diedAt = lastStart && lastExit && lastExit.at >= lastStart.at ? lastExit.at : this.c.now()
    const found = this.finder.newest(diedAt)
    if (found) this.note(`resuming: the newest checkpoint is ${found.path}`)
    return found
  }

  /** Malformed lines of the lives that ended, and of the current one. */
  private malformedLines(): number {
    const m = this.program?.malformed()
    return this.malformed + (m ? m.protocol + m.bars : 0)
  }

  private event<T extends RunEventType>(type: T, detail: RunEventDetails[T]): Promise<void> {
    return this.journal(this.c.store.addEvent(type, detail, this.c.now()))
  }

  /** Journal writes from callbacks are awaited before the run ends; a failed one is said, never thrown into a stream handler. */
  private journal(write: Promise<void>): Promise<void> {
    const tracked = write.catch((error: Error) => this.note(`cannot write to the journal: ${error.message}`))
    this.journalWrites.add(tracked)
    void tracked.finally(() => this.journalWrites.delete(tracked))
    return tracked
  }
}

/** A program that cannot be found is refused before the run directory is touched (a typo must not become a run). */
function assertRunnable(command: string, cwd: string, env: NodeJS.ProcessEnv): void {
  const candidates = command.includes('/')
    ? [resolve(cwd, command)]
    : (env.PATH ?? '')
        .split(delimiter)
        .filter(Boolean)
        .map((dir) => join(dir, command))
  for (const path of candidates) {
    try {
      accessSync(path, constants.X_OK)
      if (statSync(path).isFile()) return
    } catch {
      // Not this one.
    }
  }
  throw new UsageError(
    `cannot start '${command}': not found${command.includes('/') ? '' : ' on PATH'} or not executable (check the command after --)`,
    'LONGHAUL_EXEC_FAILED',
  )
}

/** `train` for `python3 train.py …`, else the command's own name. */
export function programName(command: string, args: readonly string[]): string {
  const script = args.find((arg) => /\.(py|sh|js|mjs|ts|rb|pl|R|jl)$/.test(arg))
  return basename(script ?? command).replace(/\.[^.]+$/, '') || 'program'
}

function differences(run: RunRecord, now: ExecIdentity): string {
  const before = JSON.parse(run.identity) as ExecIdentity
  if (run.kind !== 'exec')
    return `it holds a ${'sources' in before ? 'job' : 'run'} '${String((before as { job?: unknown }).job)}' made by longhaul run, not a supervised program`
  const show = (i: ExecIdentity): string => [i.command, ...i.args].join(' ')
  if (show(before) !== show(now)) return `it ran \`${show(before)}\`, not \`${show(now)}\``
  if (before.cwd !== now.cwd) return `it ran in ${before.cwd}, not ${now.cwd}`
  return 'the command differs'
}
