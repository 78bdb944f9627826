/**
 * `longhaul/testing`: the preflight checks as functions for a job's own test
 * suite (vitest, node:test, anything that fails on a thrown error). Each runs
 * the job in real child processes in a temporary folder and throws a
 * PreflightFailedError naming the broken requirement; it resolves with the
 * check's evidence when the job holds up.
 *
 *   import { expectCrashSafe } from 'longhaul/testing'
 *   test('survives SIGKILL and resumes to the same output', () => expectCrashSafe('./job.ts'), 120_000)
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { PreflightFailedError } from '../errors.ts'
import { isLoopJob } from '../job/defineLoop.ts'
import { loadAnyJob } from '../job/loadJob.ts'
import { checkCadence, checkFreshness } from '../preflight/checks.ts'
import { childRun } from '../preflight/childRun.ts'
import { checkCrashResume } from '../preflight/crashResume.ts'
import { checkLoopCrashResume } from '../preflight/loopCrashResume.ts'
import type { PreflightOptions } from '../preflight/options.ts'
import { loadPolicy, type PolicyInput, policySchema } from '../preflight/policy.ts'
import { preflight } from '../preflight/preflight.ts'
import type { CheckResult } from '../preflight/proof.ts'

export type { CheckResult } from '../preflight/proof.ts'

export interface JobTestOptions {
  /** Items in each run. @default 100 */
  readonly items?: number
  readonly seed?: number
  readonly params?: Readonly<Record<string, unknown>>
  /** Thresholds to use instead of those of the job's longhaul.config.ts (or the defaults). */
  readonly policy?: Pick<PolicyInput, 'progressMaxStaleSeconds' | 'maxLostWorkSeconds'>
}

/**
 * Invariants no-loss, no-duplicates, determinism, atomic-commit: the job
 * SIGKILLed `kills` times (some at a commit) and resumed ends with the same
 * digest as an uninterrupted run and a run on another worker count. For a
 * loop job (defineLoop): its final state after the kills equals an
 * uninterrupted run's; the runs take as many steps as the kills need, at
 * most `items` (default: the loop's own `steps`).
 */
export async function expectCrashSafe(
  jobPath: string,
  options: JobTestOptions & { readonly kills?: number; readonly killSeed?: number } = {},
): Promise<CheckResult> {
  const job = await loadAnyJob(jobPath)
  return inTempDir(async (workDir) => {
    if (isLoopJob(job)) {
      const policy = policySchema.parse({ crashKills: options.kills ?? 5, crashItems: 100 })
      const { check } = await checkLoopCrashResume({
        jobPath,
        workDir,
        policy,
        target: options.items ?? job.steps ?? 1_000,
        killSeed: options.killSeed ?? 1,
        onStep: () => undefined,
        ...runArgs(options),
      })
      return orThrow(check)
    }
    const { check } = await checkCrashResume({
      jobPath,
      workDir,
      items: options.items ?? 100,
      kills: options.kills ?? 5,
      killSeed: options.killSeed ?? 1,
      ...(options.seed !== undefined && { seed: options.seed }),
      ...(options.params && { params: options.params }),
    })
    return orThrow(check)
  })
}

/** Invariant fresh-progress: progress.json stays fresh, complete in its fields, and ends COMPLETE. */
export async function expectFreshProgress(jobPath: string, options: JobTestOptions = {}): Promise<CheckResult> {
  const policy = await policyFor(jobPath, options.policy)
  return inTempDir(async (dir) => {
    const run = await childRun({ jobPath, outDir: dir, total: options.items ?? 100, ...runArgs(options) })
    return orThrow(checkFreshness({ policy, runs: [run], finalRun: run }))
  })
}

/** Invariant bounded-loss: the job's commit interval plus its slowest item stays within the policy's max lost work. */
export async function expectBoundedLoss(
  jobPath: string,
  options: JobTestOptions & { readonly maxLostWorkSeconds?: number } = {},
): Promise<CheckResult> {
  const policy = await policyFor(jobPath, {
    ...options.policy,
    ...(options.maxLostWorkSeconds !== undefined && { maxLostWorkSeconds: options.maxLostWorkSeconds }),
  })
  const job = await loadAnyJob(jobPath)
  return inTempDir(async (dir) => {
    const run = await childRun({ jobPath, outDir: dir, total: options.items ?? 100, ...runArgs(options) })
    const checkpointEveryMs = isLoopJob(job) ? job.checkpointEvery.ms : job.checkpointEvery
    return orThrow(checkCadence({ policy, checkpointEveryMs, runs: [run], commitTimes: [], startedAt: undefined }))
  })
}

/** The whole preflight, as `longhaul preflight` runs it, into a temporary folder; throws unless every check passes. */
export async function expectPreflightPasses(
  jobPath: string,
  options: Omit<PreflightOptions, 'jobPath' | 'outDir'>,
): Promise<void> {
  await inTempDir(async (outDir) => {
    const result = await preflight({ ...options, jobPath, outDir })
    if (!result.passed) {
      const failures = result.statement.predicate.checks.flatMap((c) => c.failures)
      throw new PreflightFailedError(`preflight of ${jobPath} failed:\n${failures.map((f) => `  ✘ ${f}`).join('\n')}`)
    }
  })
}

async function policyFor(jobPath: string, overrides: JobTestOptions['policy']) {
  const { policy } = await loadPolicy(jobPath)
  return overrides ? policySchema.parse({ ...policy, ...overrides }) : policy
}

function runArgs(options: JobTestOptions) {
  return {
    ...(options.seed !== undefined && { seed: options.seed }),
    ...(options.params && { params: options.params }),
  }
}

function orThrow(check: CheckResult): CheckResult {
  if (!check.passed)
    throw new PreflightFailedError(`${check.title} failed:\n${check.failures.map((f) => `  ✘ ${f}`).join('\n')}`)
  return check
}

async function inTempDir<T>(body: (dir: string) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), 'longhaul-check-'))
  try {
    return await body(dir)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}
