import { statSync } from 'node:fs'
import { join } from 'node:path'
import { duration } from '../telemetry/progressText.ts'
import { type ChildRunOptions, type ChildRunResult, childRun, progressLines } from './childRun.ts'
import { type Crashed, crashUntilComplete, lastLines, unlessAborted } from './crashResume.ts'
import type { MemoryPoint } from './estimates.ts'
import type { Policy } from './policy.ts'
import type { CheckResult } from './proof.ts'

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

export interface StatePoint {
  readonly steps: number
  /** Size of the final state (what save() returned); null when the run did not complete. */
  readonly bytes: number | null
}

/** What a loop's crash/resume runs showed; `judgeLoopCrashResume` makes the verdict from it alone. */
export interface LoopCrashEvidence {
  /** The steps of the reference and crashed runs (of the first reference run, when it failed). */
  readonly steps: number
  readonly killSeed: number
  /** Why no reference could be made; absent when it was. */
  readonly failure?: string
  readonly referenceDigest: string | null
  /** Absent when there was no reference to compare with. */
  readonly crashed?: Crashed
}

export interface LoopCrashResume {
  readonly check: CheckResult
  readonly evidence: LoopCrashEvidence
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
  const failed = (failure: string): LoopCrashResume => {
    const evidence = { steps: first, killSeed: o.killSeed, failure, referenceDigest: null }
    return {
      check: judgeLoopCrashResume(o.policy, evidence),
      evidence,
      runs,
      stepsPerSecond: 0,
      state: { steps: first, bytes: null },
      memory: { items: first, retainedBytes: null },
    }
  }
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
  const evidence = { steps, killSeed: o.killSeed, referenceDigest: reference.summary.digest, crashed }
  return {
    check: judgeLoopCrashResume(o.policy, evidence),
    evidence,
    runs,
    stepsPerSecond,
    state: { steps, bytes: finalStateBytes(referenceDir) },
    memory: { items: first, retainedBytes: firstRun.retainedBytes },
  }
}

/** The crash/resume verdict of a loop, from what its runs showed. */
export function judgeLoopCrashResume(policy: Pick<Policy, 'crashKills'>, e: LoopCrashEvidence): CheckResult {
  const title = 'Crash/resume equivalence'
  const { crashed, referenceDigest: expected, steps } = e
  if (e.failure !== undefined || !crashed || !expected)
    return {
      id: 'crash-resume',
      title,
      passed: false,
      evidence: e.failure ?? 'no reference run',
      failures: [e.failure ?? 'no reference run'],
      measurements: { items: steps },
    }
  const failures =
    crashed.kills < policy.crashKills && crashed.digest
      ? [
          `only ${crashed.kills} of ${policy.crashKills} kills happened before the run completed: the target's ${steps.toLocaleString('en-US')} steps are too few to be killed ${policy.crashKills} times between checkpoints. Prove a larger target, or lower crashKills in the policy.`,
        ]
      : [...crashed.failures]
  if (crashed.digest && crashed.digest !== expected) {
    failures.push(
      `crash/resume equivalence: after ${crashed.kills} crashes and resumes the final state differs from the uninterrupted run's (sha256 ${crashed.digest.slice(0, 12)}… ≠ ${expected.slice(0, 12)}…). ` +
        'A step must depend only on the state, the step number, params and ctx.rng; save() must capture everything step() reads (no module-level state, no Math.random or Date.now).',
    )
  }
  const passed = failures.length === 0
  return {
    id: 'crash-resume',
    title,
    passed,
    evidence: `${crashed.kills} SIGKILLs (${crashed.atCommit} at a checkpoint) over ${crashed.lives} lives of ${steps} steps; final state ${passed ? 'identical to' : 'differs from'} the uninterrupted run's`,
    failures,
    measurements: {
      items: steps,
      kills: crashed.kills,
      killsAtCommit: crashed.atCommit,
      lives: crashed.lives,
      killSeed: e.killSeed,
      digests: { reference: expected, crashed: crashed.digest },
    },
  }
}

/** The size of a run's final state (data/final.bin); null when it has none. */
export function finalStateBytes(runDir: string): number | null {
  try {
    return statSync(join(runDir, 'data', 'final.bin')).size
  } catch {
    return null
  }
}
