import { join } from 'node:path'
import type { MapJob } from '../job/defineJob.ts'
import { checkCadence, checkDisk, checkFreshness, checkMemory, checkRehearsal } from './checks.ts'
import { type ChildRunResult, childRun, progressLines } from './childRun.ts'
import { projectUsage, usagePointOf } from './cost.ts'
import {
  type CrashResumeEvidence,
  checkCrashResume,
  judgeCrashResume,
  lastLines,
  unlessAborted,
} from './crashResume.ts'
import { type CommitPoint, type MemoryPoint, projectDuration, statfsProbe } from './estimates.ts'
import { launcherMs } from './launcher.ts'
import type { Policy } from './policy.ts'
import type { CheckResult } from './proof.ts'
import { commitTimeline, fixedParts, type RehearsalPlan, rehearsalPlan, type SuiteContext } from './rehearsal.ts'
import { judgeValidation, type ValidationEvidence, validationEvidence } from './validation.ts'

/**
 * Everything a map job's verdicts are made from: what its child runs showed,
 * the free disk, what its validators said. `judgeMap` needs nothing else, so
 * each check can be tested on the evidence of a real preflight.
 */
export interface MapEvidence {
  readonly kind: 'map'
  readonly target: number
  /** The job's commit interval, ms. */
  readonly checkpointEveryMs: number
  readonly crash: CrashResumeEvidence
  /** The worker count of the parallel and crashed runs, and of the rehearsal. */
  readonly workers: number
  readonly plan: RehearsalPlan
  /** Every child run whose progress was sampled: the crash/resume runs, then the rehearsal. */
  readonly runs: readonly ChildRunResult[]
  readonly rehearsal: ChildRunResult
  /** Why the rehearsal did not complete (its last lines); absent when it did. */
  readonly rehearsalFailure?: string
  /** The rehearsal's commits: its pace and its cadence. */
  readonly timeline: readonly CommitPoint[]
  /** The fixed part of each complete fresh run, ms (see projectDuration). */
  readonly fixedPartsMs: readonly number[]
  /** The smaller point of the memory comparison (the rehearsal is the larger). */
  readonly memoryBaseline: MemoryPoint
  readonly freeBytes: number
  readonly validation: ValidationEvidence
}

/** The map job's suite: crash/resume on 1 and several workers, a rehearsal, cadence, freshness, disk, memory, validators. */
export async function gatherMapEvidence({
  o,
  policy,
  workDir,
  outDir,
  fingerprint,
  common,
  step,
  job,
}: SuiteContext & { job: MapJob }): Promise<MapEvidence> {
  const crash = await checkCrashResume({
    ...common,
    workDir,
    items: Math.min(o.target, policy.crashItems),
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
  step('checking cadence, freshness, disk, memory and validators')
  const launcher = launcherMs()
  return {
    kind: 'map',
    target: o.target,
    checkpointEveryMs: job.checkpointEvery,
    crash: crash.evidence,
    workers: crash.parallel.workers,
    plan,
    runs: [...crash.runs, rehearsal],
    rehearsal,
    ...(!completed && { rehearsalFailure: lastLines(rehearsal.stderr) }),
    timeline: completed ? await commitTimeline(rehearsalDir) : [],
    fixedPartsMs: withLauncher(await fixedParts([...crash.runs, rehearsal, ...baselines]), launcher),
    memoryBaseline,
    freeBytes: (await (o.diskProbe ?? statfsProbe)(outDir)).freeBytes,
    validation: await validationEvidence(job, common.jobPath, completed ? rehearsalDir : undefined),
  }
}

/** The map job's seven verdicts, from its evidence alone. */
export function judgeMap(policy: Policy, e: MapEvidence): CheckResult[] {
  const { rehearsal, target } = e
  return [
    judgeCrashResume(e.crash),
    checkCadence({
      policy,
      checkpointEveryMs: e.checkpointEveryMs,
      runs: e.runs,
      commitTimes: e.timeline.map((p) => p.at),
      startedAt: rehearsal.samples[0]?.at,
    }),
    checkFreshness({ policy, runs: e.runs, finalRun: rehearsal }),
    checkRehearsal({
      rehearsal,
      plan: e.plan,
      target,
      workers: e.workers,
      projection: projectDuration(e.timeline, target, e.fixedPartsMs),
      failure: e.rehearsalFailure,
      cost: projectUsage(usagePointOf(rehearsal), e.runs.filter((run) => run !== rehearsal).map(usagePointOf), target),
      maxCostUsd: policy.maxCostUsd,
    }),
    checkDisk({ policy, rehearsal, target, freeBytes: e.freeBytes }),
    checkMemory({
      policy,
      small: e.memoryBaseline,
      rehearsal: { items: e.plan.items, retainedBytes: rehearsal.summary?.retainedBytes ?? null },
      rehearsalSamples: rehearsal.samples,
      target,
    }),
    judgeValidation(policy, e.validation),
  ]
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

/**
 * The run preflight suggests is started the way preflight was (npx longhaul …), so the launcher's start-up is part of
 * the run's fixed part; but npm's own start-up varies from one start to the next (0.8–1.9 s measured on one machine),
 * so each fixed part is counted both with and without it: the interval spans both.
 */
function withLauncher(parts: readonly number[], launcherMs: number): number[] {
  return launcherMs > 0 ? [...parts, ...parts.map((ms) => ms + launcherMs)] : [...parts]
}
