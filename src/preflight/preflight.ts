import { execFileSync } from 'node:child_process'
import { existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { UsageError } from '../errors.ts'
import type { MapJob } from '../job/defineJob.ts'
import { isLoopJob } from '../job/defineLoop.ts'
import { loadAnyJob } from '../job/loadJob.ts'
import { identifyJob, identifyLoop, runPaths } from '../runner/index.ts'
import { processAlive } from '../telemetry/processAlive.ts'
import { VERSION } from '../version.ts'
import { checkCadence, checkDisk, checkFreshness, checkMemory, checkRehearsal } from './checks.ts'
import { type ChildRunResult, childRun, progressLines } from './childRun.ts'
import { runCommandLine } from './command.ts'
import { checkCrashResume, lastLines, unlessAborted } from './crashResume.ts'
import { type MemoryPoint, projectDuration, statfsProbe } from './estimates.ts'
import { loopChecks } from './loopChecks.ts'
import type { PreflightOptions } from './options.ts'
import { type LoadedPolicy, launchRules, loadPolicy } from './policy.ts'
import { type CheckResult, makeStatement, type ProofStatement, writeProof } from './proof.ts'
import { commitTimeline, fixedParts, rehearsalPlan, type SuiteContext } from './rehearsal.ts'
import { writeReports } from './report.ts'
import { policyRules } from './rules.ts'
import { checkValidation } from './validation.ts'

export { type RehearsalPlan, rehearsalPlan } from './rehearsal.ts'

export interface PreflightResult {
  readonly passed: boolean
  readonly statement: ProofStatement
  readonly proofPath: string
  readonly reportPath: string
  readonly junitPath: string
  /** The `run` command the proof covers, ready to paste. */
  readonly runCommand: string
}

/**
 * `longhaul preflight`: the conformance suite and rehearsal, on the job's own
 * code, in child processes; writes the proof bundle and the reports.
 */
export async function preflight(o: PreflightOptions): Promise<PreflightResult> {
  const now = o.now ?? Date.now
  const startedAt = now()
  if (!Number.isSafeInteger(o.target) || o.target < 1)
    throw new UsageError(`--target must be a whole number of at least 1, got ${o.target}`)
  if (o.rehearsalBudgetSeconds !== undefined && !(o.rehearsalBudgetSeconds > 0))
    throw new UsageError(`--rehearsal-budget must be above 0 seconds, got ${o.rehearsalBudgetSeconds}`)
  const loaded = await loadPolicy(o.jobPath, o.config)
  const { policy } = loaded
  const target = {
    jobPath: o.jobPath,
    total: o.target,
    ...(o.seed !== undefined && { seed: o.seed }),
    ...(o.params && { params: o.params }),
  }
  const identified = isLoopJob(await loadAnyJob(o.jobPath))
    ? await identifyLoop(target, '--target')
    : await identifyJob(target, '--target')
  const { job, fingerprint } = identified
  const outDir = o.outDir ?? `runs/${job.name}`
  const proofsDir = runPaths(outDir).proofs
  const workDir = join(proofsDir, `${WORK_PREFIX}${process.pid}`)
  removeDeadWorkDirs(proofsDir)
  mkdirSync(workDir, { recursive: true })
  // Children get the params as given, not as resolved: a schema's transforms must run once, in the child, as in `run`.
  const common = {
    jobPath: o.jobPath,
    seed: identified.seed,
    ...(o.params && { params: o.params }),
    ...(o.config && { config: o.config }),
    ...(o.signal && { signal: o.signal }),
  }
  const step = (message: string): void => o.onStep?.(message)

  try {
    const context: SuiteContext = { o, policy, workDir, outDir, fingerprint, common, step }
    const checks = isLoopJob(identified.job)
      ? await loopChecks({ ...context, job: identified.job })
      : await mapChecks({ ...context, job: identified.job })
    const rules = policyRules(policy, checks)
    const passed = checks.every((c) => c.passed) && rules.every((r) => r.passed)
    const finishedAt = now()
    const statement = makeStatement(fingerprint, {
      verdict: passed ? 'PASSED' : 'FAILED',
      job: job.name,
      target: o.target,
      params: identified.params,
      seed: identified.seed,
      identity: identified.identity,
      checks,
      rules,
      policy: { source: loaded.source, digest: loaded.digest, values: launchRules(policy) },
      longhaulVersion: VERSION,
      gitCommit: gitCommit(o.jobPath),
      startedAt: new Date(startedAt).toISOString(),
      finishedAt: new Date(finishedAt).toISOString(),
      expiresAt: new Date(finishedAt + policy.proofValidDays * 86_400_000).toISOString(),
    })
    const proofPath = writeProof(proofsDir, statement)
    const workers = checks.find((c) => c.id === 'rehearsal')?.measurements.workers
    const runCommand = runCommandLine({
      jobPath: o.jobPath,
      outDir,
      target: o.target,
      ...(o.seed !== undefined && { seed: o.seed }),
      ...(o.params && { params: o.params }),
      ...(o.config !== undefined && { config: o.config }),
      ...(typeof workers === 'number' && { workers }),
    })
    const { reportPath, junitPath } = writeReports(proofsDir, statement, {
      jobPath: o.jobPath,
      outDir,
      fingerprint,
      policySource: sourceOf(loaded),
      runCommand,
    })
    return { passed, statement, proofPath, reportPath, junitPath, runCommand }
  } finally {
    rmSync(workDir, { recursive: true, force: true })
  }
}

/** The map job's suite: crash/resume on 1 and several workers, a rehearsal, cadence, freshness, disk, memory, validators. */
async function mapChecks({
  o,
  policy,
  workDir,
  outDir,
  fingerprint,
  common,
  step,
  job,
}: SuiteContext & { job: MapJob }): Promise<CheckResult[]> {
  const crashItems = Math.min(o.target, policy.crashItems)
  const crash = await checkCrashResume({
    ...common,
    workDir,
    items: crashItems,
    kills: policy.crashKills,
    killSeed: Number.parseInt(fingerprint.slice(0, 8), 16),
    onStep: step,
  })

  const plan = rehearsalPlan(
    o.target,
    policy.rehearsalFraction,
    crash.referenceItemsPerSecond,
    o.rehearsalBudgetSeconds,
  )
  step(
    `rehearsal: ${plan.items.toLocaleString('en-US')} items (${(plan.fraction * 100).toFixed(plan.fraction < 0.01 ? 2 : 1)}% of the target)${plan.note ? ` — ${plan.note}` : ''}`,
  )
  const rehearsalDir = join(workDir, 'rehearsal')
  const onProgress = progressLines(o.onStep, 'rehearsal')
  const rehearsal = await unlessAborted(
    o.signal,
    childRun({
      ...common,
      outDir: rehearsalDir,
      total: plan.items,
      workers: crash.parallel.workers,
      ...(onProgress && { onProgress }),
    }),
  )
  const completed = rehearsal.exitCode === 0 && rehearsal.summary !== undefined
  const baselines: ChildRunResult[] = []
  const memoryBaseline = await smallerRunForMemory(plan.items, crash.parallel, async (items) => {
    step(`memory: a baseline run of ${items} items to compare the rehearsal with`)
    const run = await unlessAborted(
      o.signal,
      childRun({ ...common, outDir: join(workDir, 'memory-baseline'), total: items, workers: crash.parallel.workers }),
    )
    baselines.push(run)
    return run
  })
  const timeline = completed ? await commitTimeline(rehearsalDir) : []
  const commitTimes = timeline.map((p) => p.at)
  const projection = projectDuration(timeline, o.target, await fixedParts([...crash.runs, rehearsal, ...baselines]))

  step('checking cadence, freshness, disk, memory and validators')
  const allRuns: ChildRunResult[] = [...crash.runs, rehearsal]
  return [
    crash.check,
    checkCadence({
      policy,
      checkpointEveryMs: job.checkpointEvery,
      runs: allRuns,
      commitTimes,
      startedAt: rehearsal.samples[0]?.at,
    }),
    checkFreshness({ policy, runs: allRuns, finalRun: rehearsal }),
    checkRehearsal({
      rehearsal,
      plan,
      target: o.target,
      workers: crash.parallel.workers,
      projection,
      failure: completed ? undefined : lastLines(rehearsal.stderr),
    }),
    await checkDisk({
      policy,
      rehearsal,
      target: o.target,
      freeBytes: (await (o.diskProbe ?? statfsProbe)(outDir)).freeBytes,
    }),
    checkMemory({
      policy,
      small: memoryBaseline,
      rehearsal: { items: plan.items, retainedBytes: rehearsal.summary?.retainedBytes ?? null },
      rehearsalSamples: rehearsal.samples,
      target: o.target,
    }),
    await checkValidation({ policy, job, dir: completed ? rehearsalDir : undefined }),
  ]
}

const WORK_PREFIX = '.preflight-work-'

/** Scratch folders of preflights whose process is gone (killed with -9, say). */
function removeDeadWorkDirs(proofsDir: string): void {
  if (!existsSync(proofsDir)) return
  for (const name of readdirSync(proofsDir)) {
    if (!name.startsWith(WORK_PREFIX)) continue
    const pid = Number(name.slice(WORK_PREFIX.length))
    if (pid === process.pid || !processAlive(pid)) rmSync(join(proofsDir, name), { recursive: true, force: true })
  }
}

/**
 * The small point of the memory comparison: the crash/resume run on the same
 * worker count when the rehearsal is at least 4× it, else a run of a quarter
 * of the rehearsal.
 */
async function smallerRunForMemory(
  rehearsalItems: number,
  parallel: { readonly items: number; readonly retainedBytes: number | null },
  run: (items: number) => Promise<ChildRunResult>,
): Promise<MemoryPoint> {
  if (rehearsalItems >= 4 * parallel.items) return parallel
  const items = Math.floor(rehearsalItems / 4)
  if (items < 2) return parallel
  const baseline = await run(items)
  return { items, retainedBytes: baseline.summary?.retainedBytes ?? null }
}

function gitCommit(jobPath: string): string | null {
  try {
    return (
      execFileSync('git', ['rev-parse', 'HEAD'], {
        cwd: dirname(resolve(jobPath)),
        stdio: ['ignore', 'pipe', 'ignore'],
      })
        .toString()
        .trim() || null
    )
  } catch {
    return null
  }
}

function sourceOf(loaded: LoadedPolicy): string {
  return loaded.source ?? 'defaults (no longhaul.config.ts found above the job)'
}
