import { setTimeout as sleep } from 'node:timers/promises'
import { LeaseLostError } from '../../errors.ts'
import { crashPoint } from '../../run/faults.ts'
import type { OpenSession, Session, SessionPlan, Work } from '../../run/lifecycle.ts'
import type { RunObserver } from '../../run/observer.ts'
import type { OpenedRunDir } from '../../run/openRun.ts'
import type { ProgressLoop } from '../../run/progressLoop.ts'
import type { Ending } from '../../run/role.ts'
import { duration } from '../../telemetry/progressText.ts'
import type { ProgressTracker } from '../../telemetry/progressTracker.ts'
import { type EventsChannel, openEventsChannel } from './channel.ts'
import type { FoundCheckpoint } from './checkpoints.ts'
import { JournalWrites } from './journal.ts'
import { LearnedTotalGate } from './learnedGate.ts'
import { LiveOutput } from './liveOutput.ts'
import type { ExecOptions, ExecResult, ExecSettings } from './options.ts'
import { type ProgramExit, type RunningProgram, resumeArgs, startProgram } from './program.ts'
import { RESUME_ENV } from './protocol.ts'
import { ProgramReports } from './reports.ts'
import { Watchdog } from './watchdog.ts'

const MAX_RESTART_DELAY_MS = 60_000

/** An exec run as its supervisor opened it: the run, with the identity of the program it supervises. */
export type OpenExecRun = OpenedRunDir & { readonly identity: { readonly job: string } }

/**
 * The work of an exec run: the program's lives (started held at its gate,
 * restarted from its checkpoint after a crash, stopped on an abort), driven
 * by the run's progress loop (heartbeat, lease, stall, progress files), and
 * the journal's account of them. Opened, driven and closed by the run's
 * lifecycle (run/lifecycle.ts), as every run is.
 */
export class Supervisor implements Work<OpenExecRun, ExecResult> {
  private open!: OpenExecRun
  private tracker!: ProgressTracker
  private progress: ProgressLoop | undefined
  private reports!: ProgramReports
  private journal: JournalWrites | undefined
  /** Malformed lines of the lives that ended. */
  private malformed = 0
  private lives = 0
  private program: RunningProgram | undefined
  private lastExit: ProgramExit | undefined
  private stopping: NodeJS.Signals | undefined
  private killTimer: NodeJS.Timeout | undefined
  private readonly stopWaiting = new AbortController()
  private watchdog: Watchdog | undefined
  private gated: LearnedTotalGate | undefined
  /** The first life's channel, made before the clocks start (making a FIFO takes a process of its own). */
  private firstChannel: EventsChannel | undefined
  private liveOutput: LiveOutput | undefined

  constructor(
    private readonly o: ExecOptions,
    private readonly s: ExecSettings,
  ) {}

  /** What the run's progress loop tells: the owner's observer, its bar broken for a note. */
  readonly observer: RunObserver = {
    progress: (snapshot, reason) => {
      if (reason === 'tick') this.program?.breakLine()
      this.o.observer?.progress?.(snapshot, reason === 'commit' ? 'checkpoint' : reason === 'tick' ? 'tick' : 'state')
    },
    note: (message) => this.note(message),
  }

  async reconcile({ open }: OpenSession<OpenExecRun>): Promise<SessionPlan | { readonly done: ExecResult }> {
    this.open = open
    const { run } = open
    const { now } = this.s
    this.journal = new JournalWrites(
      open.store,
      now,
      (message) => this.note(message),
      () => !this.progress?.leaseLost,
    )
    if (run.state === 'complete') {
      this.note(`${this.o.outDir} holds a completed run of this command; pass --fresh to run it again`)
      return { done: this.result(undefined, { state: 'complete', detail: { exitCode: 0, programExitCode: null } }) }
    }
    if (open.movedAsideTo) this.note(`the previous run was moved to ${open.movedAsideTo}`)
    return {
      job: open.identity.job,
      seed: 0,
      committed: 0,
      event: { command: [this.o.command, ...this.o.args], restarts: this.s.restarts, pid: process.pid },
      trackerTotal: this.o.total ?? null,
      loop: {
        onTick: (interval) => {
          if (this.program) this.reports.look()
          // The running program's last lines, for a reader of the run folder; never by a process that lost the run.
          if (this.program && !this.progress?.leaseLost)
            this.liveOutput?.keep(this.lives, this.program.pid, this.program.outputTail(), now())
          if (interval) this.reports.flushMetrics()
          if (interval) this.reports.flushProgress()
        },
        stallNote: (change, quiet) =>
          change === 'stalled'
            ? `STALLED: the program is alive but has reported no progress for ${duration(quiet)}`
            : 'the program is making progress again',
      },
      // The progress loop (heartbeat, stall clock, progress files) starts when the program is first let run.
      startLater: true,
    }
  }

  async drive(session: Session<OpenExecRun>): Promise<Ending> {
    const { open, teardown } = session
    const { now, restarts } = this.s
    this.tracker = session.tracker
    this.progress = session.progress
    this.liveOutput = new LiveOutput(open.paths.internal)
    this.gated = this.learnedGate(open)
    this.reports = new ProgramReports({
      store: open.store,
      tracker: this.tracker,
      progress: session.progress,
      journal: this.journal!,
      total: this.o.total,
      checkpoints: this.o.checkpoints,
      cwd: this.s.cwd,
      createdAt: open.run.createdAt,
      note: (message) => this.note(message),
      now,
      checkpointed: (found) => this.o.observer?.checkpoint?.(found.path, found.source),
      ...(this.gated && { stated: (total: number) => this.gated?.stated(total) }),
    })
    // Undone last first, before the progress loop: the unused channel, the watchdog, the kill timer.
    teardown.defer(() => clearTimeout(this.killTimer))
    try {
      let resumeFrom = open.resumed ? await this.reports.checkpointOfEarlierSession() : undefined
      // The lease may have aged while an orphan was stopped: the progress files are written under a fresh one.
      await session.progress.ensureLease()
      // Set up before the stall clock starts: a program is not silent while longhaul prepares to start it.
      const watchdog = Watchdog.start(this.s.graceMs)
      this.watchdog = watchdog
      teardown.defer(() => watchdog.end())
      this.firstChannel = await openEventsChannel()
      teardown.defer(() => this.firstChannel?.discard())
      while (!this.stopping) {
        this.lives++
        const exit = await this.live(this.lives, resumeFrom)
        this.lastExit = exit
        this.reports.flushMetrics()
        this.reports.flushProgress()
        if (session.failure) throw session.failure
        if (exit.exitCode === 0 && !this.stopping) return await this.ending('complete', null)
        if (this.stopping) break
        const restart = this.lives - 1
        const how = exit.signal ? `was killed by ${exit.signal}` : `exited with code ${exit.code}`
        if (restart >= restarts) {
          const error =
            `the program ${how}` +
            (restarts > 0
              ? `; gave up after ${restarts} restart${restarts === 1 ? '' : 's'} (--restarts ${restarts})`
              : ' (no restarts: pass --restarts N to restart it from its checkpoint)')
          return await this.ending('failed', error)
        }
        resumeFrom = this.reports.newest(exit.at)
        const delay = Math.min(MAX_RESTART_DELAY_MS, this.s.restartDelayMs * 2 ** restart)
        await this.journal!.event('restarting', {
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
      // The gate refused the total the program stated: the run ends with its refusal (exit 3), as a refused `run` does.
      if (this.gated?.refusal) throw this.gated.refusal
      if (session.failure) throw session.failure
      return await this.ending('interrupted', null)
    } catch (error) {
      // A lost lease leaves the run to the process that took it: nothing more is written to its journal or files.
      if (!(error instanceof LeaseLostError)) {
        this.reports.flushMetrics()
        await this.journal!.settle()
      }
      throw error
    }
  }

  /** Without --total, the gate asked of each total the program states; a refusal stops it (SIGTERM, SIGKILL after the grace). */
  private learnedGate(open: OpenExecRun): LearnedTotalGate | undefined {
    if (this.o.total !== undefined || !this.o.gate) return undefined
    const facts = {
      job: open.identity.job,
      jobPath: this.o.command,
      outDir: this.o.outDir,
      fingerprint: open.run.fingerprint,
    }
    return new LearnedTotalGate(
      this.o.gate,
      { ...facts, params: null, seed: 0, kind: 'exec' },
      this.journal!,
      (_error, total) => {
        this.note(
          `the program states a total of ${total}: refused by the launch gate; stopping it (SIGTERM, SIGKILL after ${duration(this.s.graceMs / 1000)})`,
        )
        this.stop('SIGTERM')
      },
    )
  }

  /** A stop (the signal, or a failure): forwarded to the program, SIGTERM for a failure. */
  halt(reason: Error | undefined): void {
    const asked = this.o.signal?.reason
    this.stop(
      reason === undefined && typeof asked === 'string' && asked.startsWith('SIG')
        ? (asked as NodeJS.Signals)
        : 'SIGTERM',
    )
  }

  /** The `interrupted` event of a stop at once, or the `failed` event of a failure: what longhaul and the program exited with. */
  stopDetail(_session: unknown, error?: Error): Ending['detail'] {
    if (!error) return { exitCode: 130, lives: this.lives }
    return { ...this.exitCodes('failed'), lives: this.lives, error: error.message }
  }

  /** Every journal write the program's reports caused has landed. */
  async settle(): Promise<void> {
    await this.journal?.settle()
  }

  result(_session: Session<OpenExecRun> | undefined, ending: Ending): ExecResult {
    return {
      job: this.open.identity.job,
      runId: this.open.run.runId,
      dir: this.open.paths.dir,
      state: ending.state,
      exitCode: ending.detail.exitCode ?? 0,
      lives: this.lives,
      checkpoint: this.reports?.checkpoint ?? null,
      malformedLines: this.malformedLines(),
      error: ending.error ?? null,
      programExitCode: ending.detail.programExitCode ?? null,
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
    this.reports.startLife(life)
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
          {
            life,
            pid,
            startTime,
            host: this.open.lease.host,
            args,
            checkpoint: resumeFrom?.path ?? null,
            // The count this life starts from: where the program said it was at its checkpoint, 0 without one.
            from: resumeFrom ? resumeFrom.done : 0,
          },
          this.s.now(),
        )
        // A stop asked while it was starting: it never runs.
        go = !this.stopping
      } finally {
        this.program.release(go)
      }
      // The progress loop (heartbeat, stall clock, progress files) starts when the program is first let run.
      if (life === 1) this.progress?.start()
      if (go) this.o.observer?.started?.(pid, life)
      const exit = await this.program.exited
      await this.stopLeftovers(this.program)
      const { protocol, bars } = this.program.malformed()
      this.malformed += protocol + bars
      this.watchdog?.clear()
      await this.journal!.event('program-exited', {
        life,
        pid,
        code: exit.code,
        signal: exit.signal,
        malformedLines: this.malformed,
        lastLines: this.program.outputTail(),
      })
      if (!this.progress?.leaseLost) this.liveOutput?.remove()
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
    await this.journal!.event('leftovers-stopped', { pid: program.pid, killed: program.groupAlive() })
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
      void this.journal!.event('program-killed', { pid: program.pid, graceMs, signal })
      program.send('SIGKILL')
    }, graceMs)
  }

  /** A note for the owner, on a line of its own even in the middle of the program's redrawn bar. */
  private note(message: string): void {
    this.program?.breakLine()
    this.o.observer?.note?.(message)
  }

  /** How the session ends, once the program's reports have landed in the journal. */
  private async ending(state: Ending['state'], error: string | null): Promise<Ending> {
    this.reports.flushMetrics()
    await this.journal!.settle()
    return {
      state,
      detail: { ...this.exitCodes(state), lives: this.lives, ...(error && { error }) },
      ...(error && { error }),
    }
  }

  /** DESIGN §2: interrupted is 130 whatever the program returned on its way out; a failure is never 0. */
  private exitCodes(state: Ending['state']): { readonly exitCode: number; readonly programExitCode: number | null } {
    const exit = this.lastExit
    const exitCode =
      state === 'complete' ? 0 : state === 'interrupted' ? 130 : exit && exit.exitCode !== 0 ? exit.exitCode : 1
    return { exitCode, programExitCode: exit?.exitCode ?? null }
  }

  /** Malformed lines of the lives that ended, and of the current one. */
  private malformedLines(): number {
    const m = this.program?.malformed()
    return this.malformed + (m ? m.protocol + m.bars : 0)
  }
}
