import { setTimeout as sleep } from 'node:timers/promises'
import { LeaseLostError } from '../../errors.ts'
import { crashPoint } from '../../run/faults.ts'
import type { OpenedRunDir } from '../../run/openRun.ts'
import { ProgressLoop } from '../../run/progressLoop.ts'
import { onForcedStop } from '../../run/signals.ts'
import type { Teardown } from '../../run/teardown.ts'
import { duration } from '../../telemetry/progressText.ts'
import { ProgressTracker } from '../../telemetry/progressTracker.ts'
import { type EventsChannel, openEventsChannel } from './channel.ts'
import type { FoundCheckpoint } from './checkpoints.ts'
import { JournalWrites } from './journal.ts'
import { type ExecOptions, type ExecResult, type ExecSettings, LEASE_TTL_MS } from './options.ts'
import { type ProgramExit, type RunningProgram, resumeArgs, startProgram } from './program.ts'
import { RESUME_ENV } from './protocol.ts'
import { ProgramReports } from './reports.ts'
import { Watchdog } from './watchdog.ts'

const MAX_RESTART_DELAY_MS = 60_000
/** The name an exec run's owner renews its lease under. */
const WORKER = 'exec'

/**
 * One session of an exec run: the program's lives (started held at its gate,
 * restarted from its checkpoint after a crash, stopped on an abort), driven
 * by the run's progress loop (heartbeat, lease, stall, progress files), and
 * the journal's account of them. Closed through the run's Teardown.
 */
export class Supervisor {
  private readonly tracker: ProgressTracker
  private readonly progress: ProgressLoop
  private readonly reports: ProgramReports
  private readonly journal: JournalWrites
  /** Malformed lines of the lives that ended. */
  private malformed = 0
  private lives = 0
  private program: RunningProgram | undefined
  private stopping: NodeJS.Signals | undefined
  /** Why the session must end whatever the program does (the lease was lost). */
  private failure: Error | undefined
  private killTimer: NodeJS.Timeout | undefined
  private readonly stopWaiting = new AbortController()
  private watchdog: Watchdog | undefined
  /** The first life's channel, made before the clocks start (making a FIFO takes a process of its own). */
  private firstChannel: EventsChannel | undefined

  constructor(
    private readonly o: ExecOptions,
    private readonly s: ExecSettings,
    private readonly open: OpenedRunDir & { readonly identity: { readonly job: string } },
    private readonly teardown: Teardown,
  ) {
    const { store, run, lease, paths } = open
    const note = (message: string): void => this.note(message)
    this.journal = new JournalWrites(store, s.now, note, () => !this.progress.leaseLost)
    this.tracker = new ProgressTracker({
      job: open.identity.job,
      runId: run.runId,
      total: o.total ?? null,
      committed: 0,
      workers: 1,
      startedAt: s.now(),
      stallAfterMs: s.stallAfterMs,
      refreshMs: s.progressEveryMs,
      heartbeatMs: s.heartbeatMs,
      owner: lease,
    })
    this.progress = new ProgressLoop({
      tracker: this.tracker,
      dir: paths.dir,
      store,
      ownerToken: lease.token,
      worker: WORKER,
      leaseTtlMs: LEASE_TTL_MS,
      leaseExpiresAt: lease.expiresAt,
      progressEveryMs: s.progressEveryMs,
      heartbeatMs: s.heartbeatMs,
      now: s.now,
      onLeaseError: (error) => {
        this.failure ??= error
        this.stop('SIGTERM')
      },
      onTick: (interval) => {
        if (this.program) this.reports.look()
        if (interval) this.reports.flushMetrics()
      },
      stallNote: (change, quiet) =>
        change === 'stalled'
          ? `STALLED: the program is alive but has reported no progress for ${duration(quiet)}`
          : 'the program is making progress again',
      observer: {
        progress: (snapshot, reason) => {
          if (reason === 'tick') this.program?.breakLine()
          o.observer?.progress?.(snapshot, reason === 'commit' ? 'checkpoint' : reason === 'tick' ? 'tick' : 'state')
        },
        note,
      },
    })
    this.reports = new ProgramReports({
      store,
      tracker: this.tracker,
      progress: this.progress,
      journal: this.journal,
      total: o.total,
      checkpoints: o.checkpoints,
      cwd: s.cwd,
      createdAt: run.createdAt,
      note,
      now: s.now,
    })
  }

  async run(): Promise<ExecResult> {
    const { store, resumed } = this.open
    const { now, restarts } = this.s
    let resumeFrom = resumed ? await this.reports.checkpointOfEarlierSession() : undefined
    await store.setState('running', now())
    await store.addEvent(
      resumed ? 'resumed' : 'started',
      { command: [this.o.command, ...this.o.args], restarts, pid: process.pid },
      now(),
    )
    // Undone last first: the abort listener, the unused channel, the watchdog, the kill timer, the progress loop; then
    // every journal write is waited for (before the lease and the journal, registered earlier, go).
    this.teardown.defer(() => this.journal.settle())
    this.teardown.defer(() => this.progress.stop())
    this.teardown.defer(() => clearTimeout(this.killTimer))
    this.progress.whenStopped(onForcedStop(() => this.lastWords()))
    const onAbort = (): void =>
      this.stop(
        typeof this.o.signal?.reason === 'string' && this.o.signal.reason.startsWith('SIG')
          ? (this.o.signal.reason as NodeJS.Signals)
          : 'SIGTERM',
      )
    let exit: ProgramExit | undefined
    try {
      // The lease may have aged while an orphan was stopped: the progress files are written under a fresh one.
      await this.progress.ensureLease()
      // Set up before the stall clock starts: a program is not silent while longhaul prepares to start it.
      const watchdog = Watchdog.start(this.s.graceMs)
      this.watchdog = watchdog
      this.teardown.defer(() => watchdog.end())
      this.firstChannel = await openEventsChannel()
      this.teardown.defer(() => this.firstChannel?.discard())
      this.o.signal?.addEventListener('abort', onAbort, { once: true })
      this.teardown.defer(() => this.o.signal?.removeEventListener('abort', onAbort))
      if (this.o.signal?.aborted) onAbort()
      while (!this.stopping) {
        this.lives++
        exit = await this.live(this.lives, resumeFrom)
        this.reports.flushMetrics()
        if (this.failure) throw this.failure
        if (exit.exitCode === 0 && !this.stopping) return await this.finish('complete', exit, null)
        if (this.stopping) break
        const restart = this.lives - 1
        const how = exit.signal ? `was killed by ${exit.signal}` : `exited with code ${exit.code}`
        if (restart >= restarts) {
          const error =
            `the program ${how}` +
            (restarts > 0
              ? `; gave up after ${restarts} restart${restarts === 1 ? '' : 's'} (--restarts ${restarts})`
              : ' (no restarts: pass --restarts N to restart it from its checkpoint)')
          return await this.finish('failed', exit, error)
        }
        resumeFrom = this.reports.newest(exit.at)
        const delay = Math.min(MAX_RESTART_DELAY_MS, this.s.restartDelayMs * 2 ** restart)
        await this.journal.event('restarting', {
          life: this.lives,
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
      if (this.failure) throw this.failure
      return await this.finish('interrupted', exit, null)
    } catch (error) {
      // A lost lease leaves the run to the process that took it: nothing more is written to its journal or files.
      if (error instanceof LeaseLostError) this.progress.stop()
      else await this.finish('failed', exit, (error as Error).message).catch(() => undefined)
      throw error
    }
  }

  /** Starts the program once and waits for it to end. */
  private async live(life: number, resumeFrom: FoundCheckpoint | undefined): Promise<ProgramExit> {
    const args = [
      ...this.o.args,
      ...(resumeFrom && this.o.resumeArg ? resumeArgs(this.o.resumeArg, resumeFrom.path) : []),
    ]
    const env: NodeJS.ProcessEnv = { ...this.s.env }
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
        cwd: this.s.cwd,
        env,
        channel,
        stdout: this.o.stdout ?? process.stdout,
        stderr: this.o.stderr ?? process.stderr,
        onEvent: (event) => this.reports.onEvent(event),
        onBar: (bar) => this.reports.onBar(bar),
      },
      this.s.now,
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
        await this.open.store.addEvent(
          'program-started',
          { life, pid, startTime, host: this.open.lease.host, args, checkpoint: resumeFrom?.path ?? null },
          this.s.now(),
        )
        // A stop asked while it was starting: it never runs.
        go = !this.stopping
      } finally {
        this.program.release(go)
      }
      // The progress loop (heartbeat, stall clock, progress files) starts when the program is first let run.
      if (life === 1) this.progress.start()
      const exit = await this.program.exited
      await this.stopLeftovers(this.program)
      const { protocol, bars } = this.program.malformed()
      this.malformed += protocol + bars
      this.watchdog?.clear()
      await this.journal.event('program-exited', {
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
    const { graceMs, now } = this.s
    this.note(
      `the program ended but processes it started are still running; stopping them (SIGTERM, SIGKILL after ${duration(graceMs / 1000)})`,
    )
    program.send('SIGTERM')
    const deadline = now() + graceMs
    while (program.groupAlive() && now() < deadline) await sleep(100)
    if (program.groupAlive()) program.send('SIGKILL')
    await this.journal.event('leftovers-stopped', { pid: program.pid, killed: program.groupAlive() })
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
    const { graceMs } = this.s
    this.killTimer = setTimeout(() => {
      this.note(`the program did not stop within ${duration(graceMs / 1000)} of ${signal}; killing it (SIGKILL)`)
      void this.journal.event('program-killed', { pid: program.pid, graceMs, signal })
      program.send('SIGKILL')
    }, graceMs)
  }

  /** A note for the owner, on a line of its own even in the middle of the program's redrawn bar. */
  private note(message: string): void {
    this.program?.breakLine()
    this.o.observer?.note?.(message)
  }

  private async finish(
    state: 'complete' | 'failed' | 'interrupted',
    exit: ProgramExit | undefined,
    error: string | null,
  ): Promise<ExecResult> {
    const { store } = this.open
    const { now } = this.s
    this.reports.flushMetrics()
    await this.journal.settle()
    await store.setState(state, now())
    // DESIGN §2: interrupted is 130 whatever the program returned on its way out; a failure is never 0.
    const exitCode =
      state === 'complete' ? 0 : state === 'interrupted' ? 130 : exit && exit.exitCode !== 0 ? exit.exitCode : 1
    const programExitCode = exit?.exitCode ?? null
    await store.addEvent(state, { exitCode, programExitCode, lives: this.lives, ...(error && { error }) }, now())
    await this.progress.end(state, error ?? undefined)
    return {
      job: this.open.identity.job,
      runId: this.open.run.runId,
      dir: this.open.paths.dir,
      state,
      exitCode,
      lives: this.lives,
      checkpoint: this.reports.checkpoint,
      malformedLines: this.malformedLines(),
      error,
      programExitCode,
    }
  }

  /**
   * What the run still records when longhaul is stopped at once (a second Ctrl-C), as a map or loop run does: it is
   * interrupted, in the journal and the progress files, and its lease is let go. The program itself is killed on exit.
   */
  private async lastWords(): Promise<void> {
    if (this.progress.leaseLost || this.progress.finished) return
    const { store, lease } = this.open
    const now = this.s.now()
    await store.setState('interrupted', now)
    await store.addEvent('interrupted', { exitCode: 130, lives: this.lives, forced: true }, now)
    await this.progress.end('interrupted')
    await store.releaseOwner(lease.token)
  }

  /** Malformed lines of the lives that ended, and of the current one. */
  private malformedLines(): number {
    const m = this.program?.malformed()
    return this.malformed + (m ? m.protocol + m.bars : 0)
  }
}
