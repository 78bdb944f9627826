import { accessSync, constants, statSync } from 'node:fs'
import { basename, delimiter, join, resolve } from 'node:path'
import type { Writable } from 'node:stream'
import { UsageError } from '../../errors.ts'
import type { LaunchGate } from '../../run/identify.ts'
import { type RunSettings, resolveRunSettings } from '../../run/settings.ts'
import type { ProgressSnapshot } from '../../telemetry/snapshot.ts'

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
  /** Asked before anything is written (the launch gate, see preflight/execPreflight.ts); its decision is journaled. */
  readonly gate?: LaunchGate
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
  /** The program was let run: its process id and which life (1, 2, …) this is. */
  started?(pid: number, life: number): void
  /** A new checkpoint: announced by the program (protocol), or found by the --checkpoints glob once settled. */
  checkpoint?(path: string, source: 'protocol' | 'glob'): void
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

/**
 * ExecOptions checked, with every default filled in: resolved once, before anything is started or written. What
 * every run has (its timing, its lease, its clock) is resolved by resolveRunSettings, with every other run's.
 */
export interface ExecSettings extends RunSettings {
  readonly cwd: string
  readonly job: string
  readonly restarts: number
  readonly graceMs: number
  readonly restartDelayMs: number
  readonly env: NodeJS.ProcessEnv
}

/**
 * Checks the options and fills in the defaults; throws a UsageError, before the run directory is touched, for a
 * missing or unrunnable program, a bad --restarts, --resume-arg or --name.
 */
export function resolveExecSettings(options: ExecOptions): ExecSettings {
  const cwd = resolve(options.cwd ?? process.cwd())
  const restarts = options.restarts ?? 0
  const env = options.env ?? process.env
  if (!options.command)
    throw new UsageError('no program to run: put it after --, e.g. longhaul exec -- python3 train.py')
  if (!Number.isSafeInteger(restarts) || restarts < 0)
    throw new UsageError(`--restarts must be a whole number of at least 0, got ${restarts}`)
  if (options.resumeArg !== undefined && !options.resumeArg.includes('{checkpoint}')) {
    throw new UsageError(
      `--resume-arg must contain {checkpoint}, where the checkpoint's path goes (e.g. '--resume {checkpoint}'); got '${options.resumeArg}'`,
    )
  }
  assertRunnable(options.command, cwd, env)
  if (options.name !== undefined && !/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(options.name)) {
    throw new UsageError(
      `--name '${options.name}' must be letters, digits, '.', '_' or '-' (it names the run and its folder under runs/)`,
    )
  }
  // One program, one thread of work: the run's timing is every run's, under exec's option names.
  const run = resolveRunSettings({
    workers: 1,
    ...(options.heartbeatMs !== undefined && { heartbeatMs: options.heartbeatMs }),
    ...(options.progressEveryMs !== undefined && { progressEvery: options.progressEveryMs }),
    ...(options.stallAfterMs !== undefined && { stallAfter: options.stallAfterMs }),
    ...(options.now !== undefined && { now: options.now }),
  })
  return Object.freeze({
    ...run,
    cwd,
    job: options.name ?? programName(options.command, options.args),
    restarts,
    graceMs: options.graceMs ?? 10_000,
    restartDelayMs: options.restartDelayMs ?? 1_000,
    env,
  })
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
