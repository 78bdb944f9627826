import { statSync } from 'node:fs'
import { join } from 'node:path'
import type { LoopJob } from '../job/defineLoop.ts'
import { bytes, duration } from '../telemetry/progressText.ts'
import { checkCadence, checkFreshness, checkRehearsal } from './checks.ts'
import { type ChildRunOptions, type ChildRunResult, childRun, progressLines } from './childRun.ts'
import { crashUntilComplete, lastLines, unlessAborted } from './crashResume.ts'
import { type MemoryPoint, memoryGrowth, overheadMs, projectDuration, statfsProbe } from './estimates.ts'
import type { Policy } from './policy.ts'
import type { CheckResult } from './proof.ts'
import { commitTimeline, finishedTimeline, rehearsalPlan, type SuiteContext } from './rehearsal.ts'

const MiB = 1024 * 1024
/** The crash/resume runs are sized for a checkpoint about this often (seconds) in a fresh life. */
const CRASH_CHECKPOINT_SECONDS = 0.25
/** A crashed life dies at its 2nd or 3rd checkpoint, or by a timer with its 4th as a backstop: at most 4 intervals of steps. */
const INTERVALS_PER_LIFE = 4
/** The rate is measured on a session of at least MEASURE_MS, start-up included (so a little low): a margin, so that no kill is missed. */
const SIZING_MARGIN = 1.3
/** Steps of the first reference run, which measures how long a step takes. */
const FIRST_STEPS = 10
/** A session at least this long measures the rate (start-up is a small part of it). */
const MEASURE_MS = 2_000

/**
 * A loop job's suite (DESIGN §2, loop job), on its own code in child
 * processes as for a map job: crash/resume equivalence (the final state after
 * SIGKILLs equals an uninterrupted run's, byte for byte), checkpoint cadence,
 * progress freshness, a rehearsal projecting the target's duration, and the
 * state's size at two scales for disk and memory. A loop has no records, so
 * no validators.
 */
export async function loopChecks({
  o,
  policy,
  workDir,
  outDir,
  fingerprint,
  common,
  step,
  job,
}: SuiteContext & { job: LoopJob }): Promise<CheckResult[]> {
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
  const commitTimes = completed ? (await commitTimeline(rehearsalDir)).map((p) => p.at) : []
  const timeline = finishedTimeline(rehearsal)
  const fixed = overheadMs(rehearsal.wallMs, timeline)
  const projection = projectDuration(timeline, o.target, completed && fixed !== undefined ? [fixed] : [])
  const states = [crash.state, { steps: plan.items, bytes: completed ? finalStateBytes(rehearsalDir) : null }]
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
  const allRuns: ChildRunResult[] = [...crash.runs, rehearsal]
  const growth = stateGrowth(states, o.target)
  return [
    crash.check,
    checkCadence({
      policy,
      checkpointEveryMs: job.checkpointEvery.ms,
      runs: allRuns,
      commitTimes,
      startedAt: rehearsal.samples[0]?.at,
    }),
    checkFreshness({ policy, runs: allRuns, finalRun: rehearsal }),
    checkRehearsal({
      rehearsal,
      plan,
      target: o.target,
      workers: undefined,
      projection,
      failure: completed ? undefined : lastLines(rehearsal.stderr),
    }),
    checkLoopDisk({ policy, job, growth, freeBytes: (await (o.diskProbe ?? statfsProbe)(outDir)).freeBytes }),
    checkLoopMemory({ policy, smaller, larger, target: o.target }),
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

interface LoopCrashResume {
  readonly check: CheckResult
  readonly runs: readonly ChildRunResult[]
  readonly stepsPerSecond: number
  /** The state's size after the crash/resume runs' steps. */
  readonly state: StatePoint
  /** What the loop's thread retained at the end of the reference's first run (one fresh session). */
  readonly memory: MemoryPoint
}

/**
 * Crash/resume equivalence for a loop: an uninterrupted reference run, then
 * the same steps SIGKILLed at seeded moments (at a checkpoint once it is
 * durable and before older ones are pruned, or at a random moment between
 * checkpoints) and resumed each time until complete. The final states must
 * be byte-identical (their sha256 is the run's digest). The runs checkpoint
 * every second so that kills fall between checkpoints, and are long enough
 * (in time, whatever the target) for every kill to land while steps remain.
 */
export async function checkLoopCrashResume(
  o: Pick<ChildRunOptions, 'jobPath' | 'seed' | 'params' | 'config' | 'signal'> & {
    workDir: string
    policy: Policy
    target: number
    killSeed: number
    onStep: (message: string) => void
  },
): Promise<LoopCrashResume> {
  const runs: ChildRunResult[] = []
  const onProgress = progressLines(o.onStep, 'crash/resume')
  const base = {
    jobPath: o.jobPath,
    crashPoint: 'loop-checkpoint' as const,
    ...(onProgress && { onProgress }),
    ...(o.signal && { signal: o.signal }),
    ...(o.seed !== undefined && { seed: o.seed }),
    ...(o.params !== undefined && { params: o.params }),
    ...(o.config && { config: o.config }),
  }
  const referenceDir = join(o.workDir, 'reference')
  // A few steps first, whatever crashItems says: a loop's step may take a minute, and the rate decides the rest.
  const first = Math.min(o.target, o.policy.crashItems, FIRST_STEPS)
  o.onStep(`crash/resume: reference run, ${first} steps`)
  let reference = await unlessAborted(o.signal, childRun({ ...base, outDir: referenceDir, total: first }))
  runs.push(reference)
  const failed = (reason: string): LoopCrashResume => ({
    check: {
      id: 'crash-resume',
      title: 'Crash/resume equivalence',
      passed: false,
      evidence: reason,
      failures: [reason],
      measurements: { items: first },
    },
    runs,
    stepsPerSecond: 0,
    state: { steps: first, bytes: null },
    memory: { items: first, retainedBytes: null },
  })
  if (!reference.summary?.digest)
    return failed(`the loop does not complete at small scale (${first} steps): ${lastLines(reference.stderr)}`)
  const firstRun = reference.summary
  // The rate of a short session is mostly start-up: the reference goes on (a loop's steps may grow) until a session lasts
  // long enough to measure it, then to enough steps for every kill to land between checkpoints — never past the target
  // (a loop may have nothing to do past it: a dataset's last batch, a schedule's end).
  const lives = o.policy.crashKills + 1
  let steps = first
  let session = reference.summary
  // Each life needs a few checkpoints, and a checkpoint comes between steps: at least a few steps per life, however slow.
  const wanted = (perSecond: number): number =>
    Math.min(
      o.target,
      Math.ceil(Math.max(perSecond * CRASH_CHECKPOINT_SECONDS, 1) * lives * INTERVALS_PER_LIFE * SIZING_MARGIN),
    )
  for (;;) {
    const perSecond = session.committedThisSession / Math.max(0.001, session.wallMs / 1000)
    const measured = session.wallMs >= MEASURE_MS
    const next = measured
      ? wanted(perSecond)
      : Math.min(wanted(perSecond), steps + Math.ceil((perSecond * MEASURE_MS * 2) / 1000))
    if (next <= steps) break
    o.onStep(
      `crash/resume: the reference goes on to ${next.toLocaleString('en-US')} steps (${measured ? `about ${duration(next / perSecond)} in all, so that ${o.policy.crashKills} kills land between checkpoints` : 'measuring the rate'})`,
    )
    reference = await unlessAborted(o.signal, childRun({ ...base, outDir: referenceDir, total: next }))
    runs.push(reference)
    if (!reference.summary?.digest)
      return failed(`the loop could not be continued from ${steps} to ${next} steps: ${lastLines(reference.stderr)}`)
    steps = next
    session = reference.summary
    if (measured) break
  }
  const stepsPerSecond = session.committedThisSession / Math.max(0.001, session.wallMs / 1000)
  // When the target's steps are too few for 0.25 s checkpoints, checkpoints come faster; below 0.1 s, they come every few
  // steps instead, and every kill is at a checkpoint (a timer could not land inside so brief a run).
  // The crashed lives checkpoint every few steps (by time, a busy machine would move checkpoints against the kills; the
  // loop's own time-based checkpoints may add some, which only shortens a life). Each life dies at its 2nd or 3rd checkpoint, or by a timer after its 1st with the 4th as a backstop: at
  // most 4 intervals of progress per kill, and the run has 4 per life, so every kill lands while steps remain.
  const everySteps = Math.max(1, Math.floor(steps / (lives * INTERVALS_PER_LIFE)))
  const intervalMs = (everySteps / stepsPerSecond) * 1000
  o.onStep(
    `crash/resume: ${o.policy.crashKills} SIGKILLs at seeded moments, resumed each time (checkpoints every ${everySteps.toLocaleString('en-US')} steps)`,
  )
  const crashed = await crashUntilComplete(
    { ...base, loopCheckpointSteps: everySteps, outDir: join(o.workDir, 'crashed'), total: steps },
    { killSeed: o.killSeed, kills: o.policy.crashKills, ...(o.signal && { signal: o.signal }) },
    Math.round(intervalMs * 2.5),
    runs,
    [2, 3],
    4,
  )
  const failures =
    crashed.kills < o.policy.crashKills && crashed.digest
      ? [
          `only ${crashed.kills} of ${o.policy.crashKills} kills happened before the run completed: the target's ${steps.toLocaleString('en-US')} steps are too few to be killed ${o.policy.crashKills} times between checkpoints. Prove a larger target, or lower crashKills in the policy.`,
        ]
      : [...crashed.failures]
  const expected = reference.summary.digest
  if (crashed.digest && crashed.digest !== expected) {
    failures.push(
      `crash/resume equivalence: after ${crashed.kills} crashes and resumes the final state differs from the uninterrupted run's (sha256 ${crashed.digest.slice(0, 12)}… ≠ ${expected.slice(0, 12)}…). ` +
        'A step must depend only on the state, the step number, params and ctx.rng; save() must capture everything step() reads (no module-level state, no Math.random or Date.now).',
    )
  }
  const passed = failures.length === 0
  return {
    check: {
      id: 'crash-resume',
      title: 'Crash/resume equivalence',
      passed,
      evidence: `${crashed.kills} SIGKILLs (${crashed.atCommit} at a checkpoint) over ${crashed.lives} lives of ${steps} steps; final state ${passed ? 'identical to' : 'differs from'} the uninterrupted run's`,
      failures,
      measurements: {
        items: steps,
        kills: crashed.kills,
        killsAtCommit: crashed.atCommit,
        lives: crashed.lives,
        killSeed: o.killSeed,
        digests: { reference: expected, crashed: crashed.digest },
      },
    },
    runs,
    stepsPerSecond,
    state: { steps, bytes: finalStateBytes(referenceDir) },
    memory: { items: first, retainedBytes: firstRun.retainedBytes },
  }
}

interface StatePoint {
  readonly steps: number
  /** Size of the final state (what save() returned); null when the run did not complete. */
  readonly bytes: number | null
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
  job: LoopJob
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

function finalStateBytes(runDir: string): number | null {
  try {
    return statSync(join(runDir, 'data', 'final.bin')).size
  } catch {
    return null
  }
}
