import { join } from 'node:path'
import { execLaunchGate } from '../../preflight/execPreflight.ts'
import { type ExecResult, programName, superviseProgram } from '../../work/exec/supervise.ts'
import type { Io } from '../io.ts'
import { progressLine } from '../render/progressLine.ts'

export interface ExecCommandOptions {
  out?: string
  name?: string
  restarts?: number
  checkpoints?: string
  resumeArg?: string
  total?: number
  stallAfter?: number
  progressEvery?: number
  grace?: number
  restartDelay?: number
  fresh?: boolean
  skipPreflight?: boolean
  config?: string
  json?: boolean
}

/**
 * `longhaul exec [options] -- CMD ARGS…`: supervises a program. Its output
 * passes through untouched; longhaul's own lines go to stderr, prefixed,
 * one per interval. Exits with the program's exit code.
 */
export async function execCommand(
  command: readonly string[],
  options: ExecCommandOptions,
  io: Io,
  signal?: AbortSignal,
): Promise<number> {
  const [program, ...args] = command
  const name = options.name
  const outDir = options.out ?? join('runs', name ?? programName(program ?? '', args))
  const result: ExecResult = await superviseProgram({
    command: program ?? '',
    args,
    outDir,
    ...(name !== undefined && { name }),
    ...(options.restarts !== undefined && { restarts: options.restarts }),
    ...(options.checkpoints !== undefined && { checkpoints: options.checkpoints }),
    ...(options.resumeArg !== undefined && { resumeArg: options.resumeArg }),
    ...(options.total !== undefined && { total: options.total }),
    ...(options.fresh !== undefined && { fresh: options.fresh }),
    // The launch gate (invariant gate): a total above the policy's scale needs a proof from `preflight --exec`.
    ...(program && {
      gate: await execLaunchGate({
        command: program,
        args,
        cwd: process.cwd(),
        skip: options.skipPreflight === true,
        ...(options.config !== undefined && { config: options.config }),
        ...(options.checkpoints !== undefined && { checkpoints: options.checkpoints }),
        ...(options.resumeArg !== undefined && { resumeArg: options.resumeArg }),
      }),
    }),
    ...(options.stallAfter !== undefined && { stallAfterMs: options.stallAfter * 1000 }),
    ...(options.progressEvery !== undefined && {
      progressEveryMs: options.progressEvery * 1000,
      heartbeatMs: Math.min(10_000, options.progressEvery * 1000),
    }),
    ...(options.grace !== undefined && { graceMs: options.grace * 1000 }),
    ...(options.restartDelay !== undefined && { restartDelayMs: options.restartDelay * 1000 }),
    ...(signal && { signal }),
    observer: {
      note: (message) => io.err(`longhaul: ${message}`),
      progress: (snapshot, reason) => {
        if (reason === 'tick' && snapshot.state !== 'complete')
          io.err(`longhaul: ${progressLine(snapshot, Date.now())}`)
      },
    },
  })
  if (options.json) io.out(JSON.stringify(result, null, 2))
  else io.err(closingLine(result))
  return result.exitCode
}

function closingLine(r: ExecResult): string {
  const lives = r.lives > 1 ? ` (started ${r.lives} times)` : ''
  switch (r.state) {
    case 'complete':
      return `longhaul: ${r.job} COMPLETE${lives}; its progress and journal are in ${r.dir}`
    case 'interrupted':
      return (
        `longhaul: ${r.job} INTERRUPTED (exit ${r.exitCode}); run the same command to resume` +
        (r.checkpoint ? ` from ${r.checkpoint}` : '')
      )
    case 'failed':
      return (
        `longhaul: ${r.job} FAILED: ${r.error}. Exit code ${r.exitCode}; its output is above, its journal in ${r.dir}.` +
        (r.checkpoint ? ` The newest checkpoint is ${r.checkpoint}.` : '')
      )
  }
}
