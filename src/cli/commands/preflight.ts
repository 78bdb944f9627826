import { relative } from 'node:path'
import { UsageError } from '../../errors.ts'
import { parseParamPairs } from '../../job/params.ts'
import { preflight } from '../../preflight/preflight.ts'
import type { PreflightPredicate } from '../../preflight/proof.ts'
import { projectedLine } from '../../preflight/report.ts'
import { duration } from '../../telemetry/progressText.ts'
import { EXIT } from '../exitCodes.ts'
import type { Io } from '../io.ts'

export interface PreflightCommandOptions {
  readonly target?: number
  readonly out?: string
  readonly seed?: number
  readonly param: readonly string[]
  readonly params?: string
  readonly config?: string
  readonly rehearsalBudget?: number
  readonly concurrency?: number
  readonly json?: boolean
}

/** `longhaul preflight JOB --target N`: proves the job, writes the proof and reports; exit 0 only when every check passes. */
export async function preflightCommand(
  job: readonly string[],
  options: PreflightCommandOptions,
  io: Io,
  signal?: AbortSignal,
): Promise<number> {
  const [jobPath] = job
  if (job.length !== 1 || jobPath === undefined)
    throw new UsageError(
      `preflight takes one job file, got ${job.length}: ${job.join(' ')} (to prove a program run by exec, pass --exec … -- CMD ARGS)`,
    )
  if (options.target === undefined)
    throw new UsageError("required option '--target <n>' not specified: the production-scale total the proof is for")
  const started = Date.now()
  const params = parseParamPairs(options.param, options.params)
  const result = await preflight({
    jobPath,
    target: options.target,
    ...(options.out !== undefined && { outDir: options.out }),
    ...(options.seed !== undefined && { seed: options.seed }),
    ...(Object.keys(params).length > 0 && { params }),
    ...(options.config !== undefined && { config: options.config }),
    ...(options.rehearsalBudget !== undefined && { rehearsalBudgetSeconds: options.rehearsalBudget }),
    ...(options.concurrency !== undefined && { concurrency: options.concurrency }),
    ...(signal && { signal }),
    // Steps go to stderr as they start, so a long preflight is never silent.
    onStep: (message) => io.err(`[${duration((Date.now() - started) / 1000).padStart(6)}] ${message}`),
  })
  const p = result.statement.predicate
  if (options.json) {
    io.out(
      JSON.stringify({
        passed: result.passed,
        proof: result.proofPath,
        report: result.reportPath,
        junit: result.junitPath,
        runCommand: result.runCommand,
        ...p,
      }),
    )
  } else {
    const projected = projectedLine(result.statement)
    io.out(
      [
        ...verdictLines(p, `${p.job}, target ${p.target.toLocaleString('en-US')}`),
        ...(projected ? [`  projected  ${projected}`] : []),
        ...(result.passed ? [`  run with   ${result.runCommand}`] : []),
        `  proof      ${shown(result.proofPath)}`,
        `  report     ${shown(result.reportPath)}  (JUnit: ${shown(result.junitPath)})`,
      ].join('\n'),
    )
  }
  return result.passed ? EXIT.ok : EXIT.failed
}

/** The verdict, then one line per rule and one per failure, as every preflight prints them. */
export function verdictLines(p: PreflightPredicate, what: string): string[] {
  const width = Math.max(...p.rules.map((r) => r.rule.length))
  return [
    `PREFLIGHT ${p.verdict}  ${what}`,
    ...p.rules.map(
      (r) => `  ${r.passed ? '✔' : '✘'} ${r.rule.padEnd(width)}  ${JSON.stringify(r.value).padEnd(6)}  ${r.evidence}`,
    ),
    ...p.checks.flatMap((c) => c.failures.map((f) => `  ✘ ${f}`)),
  ]
}

/** A path relative to here when it is below here, else absolute. */
export function shown(path: string): string {
  const rel = relative(process.cwd(), path)
  return rel.startsWith('..') ? path : rel
}
