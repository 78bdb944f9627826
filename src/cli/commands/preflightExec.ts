import { UsageError } from '../../errors.ts'
import { preflightExec } from '../../preflight/execPreflight.ts'
import { projectedLine } from '../../preflight/report.ts'
import { EXIT } from '../exitCodes.ts'
import type { Io } from '../io.ts'
import { shown, verdictLines } from './preflight.ts'

export interface PreflightExecCommandOptions {
  readonly out?: string
  readonly outputs?: string
  readonly total?: number
  readonly checkpoints?: string
  readonly resumeArg?: string
  readonly seed?: number
  readonly config?: string
  readonly json?: boolean
  readonly target?: number
}

/** `longhaul preflight --exec … -- CMD ARGS…`: proves a supervised program; exit 0 only when every check passes. */
export async function preflightExecCommand(
  command: readonly string[],
  options: PreflightExecCommandOptions,
  io: Io,
  signal?: AbortSignal,
): Promise<number> {
  const [program, ...args] = command
  if (program === undefined)
    throw new UsageError('no program to prove: put it after --, e.g. longhaul preflight --exec … -- python3 train.py')
  if (options.target !== undefined && options.total !== undefined && options.target !== options.total)
    throw new UsageError(
      `preflight --exec takes the target once: --target ${options.target} and --total ${options.total} differ (they mean the same, the amount of work exec is given)`,
    )
  const total = options.target ?? options.total
  if (options.outputs === undefined)
    throw new UsageError(
      'preflight --exec needs --outputs GLOB: the files the program writes, which must be byte-identical after crashes',
    )
  io.err('longhaul: preflight --exec: an uninterrupted run, then one SIGKILLed and resumed (both in a scratch folder)')
  const result = await preflightExec({
    command: program,
    args,
    cwd: process.cwd(),
    outputs: options.outputs,
    ...(total !== undefined && { total }),
    ...(options.checkpoints !== undefined && { checkpoints: options.checkpoints }),
    ...(options.resumeArg !== undefined && { resumeArg: options.resumeArg }),
    ...(options.out !== undefined && { outDir: options.out }),
    ...(options.seed !== undefined && { seed: options.seed }),
    ...(options.config !== undefined && { config: options.config }),
    ...(signal && { signal }),
  })
  const p = result.statement.predicate
  const projected = projectedLine(result.statement)
  const rehearsal = p.checks.find((c) => c.id === 'rehearsal')?.measurements
  if (options.json) {
    io.out(
      JSON.stringify({
        passed: result.passed,
        proof: result.proofPath,
        report: result.reportPath,
        execCommand: result.execCommand,
        projection: rehearsal?.rehearsed
          ? {
              seconds: rehearsal.projectedSeconds,
              lowSeconds: rehearsal.projectedLowSeconds,
              highSeconds: rehearsal.projectedHighSeconds,
              outputBytes: rehearsal.projectedOutputBytes,
            }
          : null,
        ...p,
      }),
    )
  } else {
    io.out(
      [
        ...verdictLines(p, `${p.job} (exec), total ${p.target.toLocaleString('en-US')}`),
        ...(projected
          ? [`  projected  ${projected}`]
          : rehearsal?.rehearsed === false
            ? ['  projected  none: no rehearsal (no {total} or {fraction} argument in the command)']
            : []),
        ...(result.passed ? [`  run with   ${result.execCommand}`] : []),
        `  proof      ${shown(result.proofPath)}`,
        `  report     ${shown(result.reportPath)}`,
      ].join('\n'),
    )
  }
  return result.passed ? EXIT.ok : EXIT.failed
}
