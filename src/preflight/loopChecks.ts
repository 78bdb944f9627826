import { join } from 'node:path'
import type { LoopJob } from '../job/defineLoop.ts'
import { bytes } from '../telemetry/progressText.ts'
import { checkCadence, checkFreshness, checkRehearsal } from './checks.ts'
import { type ChildRunResult, childRun, progressLines } from './childRun.ts'
import { lastLines, unlessAborted } from './crashResume.ts'
import { type MemoryPoint, memoryGrowth, overheadMs, projectDuration, statfsProbe } from './estimates.ts'
import {
  checkLoopCrashResume,
  finalStateBytes,
  judgeLoopCrashResume,
  type LoopCrashEvidence,
  type StatePoint,
} from './loopCrashResume.ts'
import type { Policy } from './policy.ts'
import type { CheckResult } from './proof.ts'
import { commitTimeline, finishedTimeline, type RehearsalPlan, rehearsalPlan, type SuiteContext } from './rehearsal.ts'

const MiB = 1024 * 1024

/**
 * Everything a loop job's verdicts are made from: what its child runs
 * showed, the state's size, the free disk. `judgeLoop` needs nothing else, so
 * each check can be tested on the evidence of a real preflight.
 */
export interface LoopEvidence {
  readonly kind: 'loop'
  readonly target: number
  /** The loop's own checkpoint interval, ms. */
  readonly checkpointEveryMs: number
  /** What the disk check counts copies of the state by. */
  readonly job: Pick<LoopJob, 'keep' | 'best'>
  readonly crash: LoopCrashEvidence
  readonly plan: RehearsalPlan
  /** Every child run whose progress was sampled: the crash/resume runs, then the rehearsal. */
  readonly runs: readonly ChildRunResult[]
  readonly rehearsal: ChildRunResult
  /** Why the rehearsal did not complete (its last lines); absent when it did. */
  readonly rehearsalFailure?: string
  /** When the rehearsal's checkpoints were recorded. */
  readonly commitTimes: readonly number[]
  /** The state's size at two scales: after the crash/resume runs' steps, and after the rehearsal's. */
  readonly states: readonly [StatePoint, StatePoint]
  /** What the loop's thread retained at the end of two fresh runs at least 3× apart. */
  readonly memory: { readonly smaller: MemoryPoint; readonly larger: MemoryPoint }
  readonly freeBytes: number
}

/**
 * A loop job's suite (DESIGN §2, loop job), on its own code in child
 * processes as for a map job: crash/resume equivalence (the final state after
 * SIGKILLs equals an uninterrupted run's, byte for byte), checkpoint cadence,
 * progress freshness, a rehearsal projecting the target's duration, and the
 * state's size at two scales for disk and memory. A loop has no records, so
 * no validators.
 */
export async function gatherLoopEvidence({
  o,
  policy,
  workDir,
  outDir,
  fingerprint,
  common,
  step,
  job,
}: SuiteContext & { job: LoopJob }): Promise<LoopEvidence> {
  const crash = await checkLoopCrashResume({
    ...common,
    workDir,
    policy,
    target: o.target,
    killSeed: Number.parseInt(fingerprint.slice(0, 8), 16),
    onStep: step,
    signal: o.signal,
  })

  const plan = rehearsalPlan(o.target, policy.rehearsalFraction, crash.stepsPerSecond, o.rehearsalBudgetSeconds)
  step(
    `rehearsal: ${plan.items.toLocaleString('en-US')} steps (${(plan.fraction * 100).toFixed(plan.fraction < 0.01 ? 2 : 1)}% of the target) at the loop's own checkpoint interval${plan.note ? ` — ${plan.note}` : ''}`,
  )
  const rehearsalDir = join(workDir, 'rehearsal')
  const onProgress = progressLines(o.onStep, 'rehearsal')
  const rehearsal = await unlessAborted(
    o.signal,
    childRun({ ...common, outDir: rehearsalDir, total: plan.items, ...(onProgress && { onProgress }) }),
  )
  const completed = rehearsal.exitCode === 0 && rehearsal.summary !== undefined
  // Memory at two scales at least 3× apart, each measured at the end of a fresh process that ran all its steps (a
  // resumed session holds only what it did itself): the rehearsal, and the reference's first run or a quarter-size run.
  const larger: MemoryPoint = { items: plan.items, retainedBytes: rehearsal.summary?.retainedBytes ?? null }
  let smaller = crash.memory
  if (smaller.items * 3 > larger.items && larger.items >= 8) {
    const items = Math.floor(larger.items / 4)
    step(
      `memory: a baseline run of ${items.toLocaleString('en-US')} steps to compare with ${larger.items.toLocaleString('en-US')}`,
    )
    const baseline = await unlessAborted(
      o.signal,
      childRun({ ...common, outDir: join(workDir, 'memory-baseline'), total: items }),
    )
    smaller = { items, retainedBytes: baseline.summary?.retainedBytes ?? null }
  }
  step("checking cadence, freshness, the state's size, disk and memory")
  return {
    kind: 'loop',
    target: o.target,
    checkpointEveryMs: job.checkpointEvery.ms,
    job: { keep: job.keep, best: job.best },
    crash: crash.evidence,
    plan,
    runs: [...crash.runs, rehearsal],
    rehearsal,
    ...(!completed && { rehearsalFailure: lastLines(rehearsal.stderr) }),
    commitTimes: completed ? (await commitTimeline(rehearsalDir)).map((p) => p.at) : [],
    states: [crash.state, { steps: plan.items, bytes: completed ? finalStateBytes(rehearsalDir) : null }],
    memory: { smaller, larger },
    freeBytes: (await (o.diskProbe ?? statfsProbe)(outDir)).freeBytes,
  }
}

/** The loop job's seven verdicts, from its evidence alone. */
export function judgeLoop(policy: Policy, e: LoopEvidence): CheckResult[] {
  const { rehearsal, target } = e
  // A loop commits only at its checkpoints: its pace comes from what progress.json showed finished.
  const timeline = finishedTimeline(rehearsal)
  const fixed = overheadMs(rehearsal.wallMs, timeline)
  const completed = e.rehearsalFailure === undefined
  return [
    judgeLoopCrashResume(policy, e.crash),
    checkCadence({
      policy,
      checkpointEveryMs: e.checkpointEveryMs,
      runs: e.runs,
      commitTimes: e.commitTimes,
      startedAt: rehearsal.samples[0]?.at,
    }),
    checkFreshness({ policy, runs: e.runs, finalRun: rehearsal }),
    checkRehearsal({
      rehearsal,
      plan: e.plan,
      target,
      workers: undefined,
      projection: projectDuration(timeline, target, completed && fixed !== undefined ? [fixed] : []),
      failure: e.rehearsalFailure,
    }),
    checkLoopDisk({ policy, job: e.job, growth: stateGrowth(e.states, target), freeBytes: e.freeBytes }),
    checkLoopMemory({ policy, smaller: e.memory.smaller, larger: e.memory.larger, target }),
    {
      id: 'validation',
      title: 'Data validation',
      passed: !policy.requireValidators,
      evidence: 'a loop job has no records to validate',
      failures: policy.requireValidators
        ? [
            'validation: the policy requires validators, and a loop job (defineLoop) has no records to validate; prove it under a policy without requireValidators',
          ]
        : [],
      measurements: { records: 0, declared: false },
    },
  ]
}

interface StateGrowth {
  readonly smaller: StatePoint
  readonly larger: StatePoint
  /** Bytes the state grows by per step; null when not measurable. */
  readonly bytesPerStep: number | null
  /** The state's size at the target. */
  readonly projectedBytes: number | null
  readonly target: number
}

/** Differences under this are noise (a length-prefixed format, a counter), not growth. */
const NOISE_BYTES = 4096

/** The state's size at two scales, projected to the target as a straight line. */
export function stateGrowth(points: readonly StatePoint[], target: number): StateGrowth {
  const [smaller, larger] = [...points].sort((a, b) => a.steps - b.steps) as [StatePoint, StatePoint]
  if (smaller.bytes === null || larger.bytes === null)
    return { smaller, larger, bytesPerStep: null, projectedBytes: null, target }
  const difference = larger.bytes - smaller.bytes
  const bytesPerStep =
    larger.steps > smaller.steps && Math.abs(difference) > NOISE_BYTES ? difference / (larger.steps - smaller.steps) : 0
  return {
    smaller,
    larger,
    bytesPerStep,
    projectedBytes: Math.max(larger.bytes, larger.bytes + bytesPerStep * (target - larger.steps)),
    target,
  }
}

/** Checkpoints kept (the last K, the best, one being written) and the final state, at the state's projected size. */
export function checkLoopDisk(o: {
  policy: Policy
  job: Pick<LoopJob, 'keep' | 'best'>
  growth: StateGrowth
  freeBytes: number
}): CheckResult {
  const { projectedBytes } = o.growth
  if (projectedBytes === null) {
    return {
      id: 'disk',
      title: 'Disk space',
      passed: false,
      evidence: 'not measured: a run did not complete',
      failures: ['disk: not measured, a run did not complete'],
      measurements: {},
    }
  }
  const copies = o.job.keep + (o.job.best ? 1 : 0) + 2
  const needed = projectedBytes * copies * o.policy.diskMargin
  const passed = needed <= o.freeBytes
  return {
    id: 'disk',
    title: 'Disk space',
    passed,
    evidence: `state ${bytes(projectedBytes)} at the target × ${copies} copies (keep ${o.job.keep}${o.job.best ? ', the best' : ''}, one being written, final.bin) × ${o.policy.diskMargin} margin = ${bytes(needed)} vs ${bytes(o.freeBytes)} free`,
    failures: passed
      ? []
      : [
          `disk: the checkpoints would not fit: ${bytes(projectedBytes)} × ${copies} copies × ${o.policy.diskMargin} margin = ${bytes(needed)}, only ${bytes(o.freeBytes)} free. Free space, write elsewhere (--out), or keep fewer checkpoints.`,
        ],
    measurements: {
      projectedStateBytes: projectedBytes,
      copies,
      neededBytes: needed,
      freeBytes: o.freeBytes,
      margin: o.policy.diskMargin,
    },
  }
}

/**
 * Invariant bounded-memory, for a loop: what its thread retains at the end
 * (after a full collection, the state included) at two scales. Growth per
 * step is carried over the target's steps: a loop that keeps something of
 * every step (a list of losses, a module-level history) fails.
 */
export function checkLoopMemory(o: {
  policy: Policy
  smaller: MemoryPoint
  larger: MemoryPoint
  target: number
}): CheckResult {
  const { bytesPerItem } = memoryGrowth(o.smaller, o.larger, o.target)
  const growth = bytesPerItem === null ? null : Math.max(0, bytesPerItem) * o.target
  const limit = o.policy.maxMemoryGrowthMiB * MiB
  const passed = growth === null || growth <= limit
  const at = (p: MemoryPoint): string => `${bytes(p.retainedBytes ?? 0)} after ${p.items.toLocaleString('en-US')} steps`
  return {
    id: 'memory',
    title: 'Memory over time',
    passed,
    evidence:
      bytesPerItem === null
        ? `not measurable: ${o.smaller.retainedBytes === null || o.larger.retainedBytes === null ? 'a run did not report its memory' : `${o.larger.items} steps is not 3× ${o.smaller.items}`}`
        : `the loop's thread retains ${at(o.smaller)} and ${at(o.larger)}: ${bytesPerItem ? `${bytes(bytesPerItem)} per step → +${bytes(growth ?? 0)} over ${o.target.toLocaleString('en-US')} steps` : 'no growth'} (allowed ${o.policy.maxMemoryGrowthMiB} MiB)`,
    failures: passed
      ? []
      : [
          `bounded-memory: the loop's memory grows with steps (${bytes(bytesPerItem ?? 0)} per step, ${at(o.smaller)} vs ${at(o.larger)}): +${bytes(growth ?? 0)} by the target, the policy allows ${o.policy.maxMemoryGrowthMiB} MiB. Something keeps a piece of every step (a list of losses, a module-level history): keep a bounded window, or nothing.`,
        ],
    measurements: { smaller: o.smaller, larger: o.larger, bytesPerStep: bytesPerItem, projectedGrowthBytes: growth },
  }
}
