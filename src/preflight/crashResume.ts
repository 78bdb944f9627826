import { availableParallelism } from 'node:os'
import { join } from 'node:path'
import prand from 'pure-rand'
import { InterruptedError } from '../errors.ts'
import { type VerifyReport, verifyRun } from '../inspect/verify.ts'
import { type ChildRunOptions, type ChildRunResult, childRun, progressLines } from './childRun.ts'
import type { CheckResult } from './proof.ts'

export interface CrashResumeOptions {
  readonly jobPath: string
  /** Scratch folder; three runs are made under it. */
  readonly workDir: string
  readonly items: number
  readonly kills: number
  readonly seed?: number
  readonly params?: unknown
  readonly config?: string
  /** Items in flight per process in every run. @default the job's */
  readonly concurrency?: number
  /** Seeds the kill schedule, so a failing schedule can be replayed. */
  readonly killSeed: number
  readonly onStep?: (message: string) => void
  /** Ctrl-C: the running child is stopped and this rejects with an InterruptedError. */
  readonly signal?: AbortSignal
}

export interface CrashResumeResult {
  readonly check: CheckResult
  /** What the check was judged on. */
  readonly evidence: CrashResumeEvidence
  /** Every child run, for the progress-freshness check. */
  readonly runs: readonly ChildRunResult[]
  /** The reference run's rate (1 worker), for sizing the rehearsal. */
  readonly referenceItemsPerSecond: number
  /** The run on `workers` workers, uninterrupted: the small point of the memory comparison. */
  readonly parallel: { readonly workers: number; readonly items: number; readonly retainedBytes: number | null }
}

/** One uninterrupted run as the crash/resume verdict sees it: its digest, or why it has none. */
export interface DigestOf {
  readonly digest: string | null
  /** The last lines of its stderr, for a run that did not complete. */
  readonly failure: string
}

/** What the crash/resume runs showed; `judgeCrashResume` makes the verdict from it alone. */
export interface CrashResumeEvidence {
  readonly items: number
  /** The worker count of the parallel and crashed runs. */
  readonly workers: number
  readonly killSeed: number
  readonly reference: DigestOf
  /** Absent when the reference did not complete (nothing else was run). */
  readonly parallel?: DigestOf
  readonly crashed?: Crashed
  /** `verify` of the crashed run's folder, when it completed. */
  readonly verified?: Pick<VerifyReport, 'complete' | 'duplicates' | 'corrupt' | 'missing' | 'problems'>
}

/**
 * Invariants no-loss, no-duplicates, determinism and atomic-commit, proved on
 * the job's own code: an uninterrupted reference run (1 worker), a run with
 * another worker count, and a run SIGKILLed at seeded moments (some at a
 * commit, between the shard's files and the journal record) and resumed each
 * time until complete. All three digests must be equal, and the crashed run
 * must verify complete, duplicate-free and uncorrupted.
 */
export async function checkCrashResume(o: CrashResumeOptions): Promise<CrashResumeResult> {
  const onProgress = progressLines(o.onStep, 'crash/resume')
  const base = {
    jobPath: o.jobPath,
    total: o.items,
    ...(onProgress && { onProgress }),
    ...(o.signal && { signal: o.signal }),
    ...(o.seed !== undefined && { seed: o.seed }),
    ...(o.params !== undefined && { params: o.params }),
    ...(o.config && { config: o.config }),
    ...(o.concurrency !== undefined && { concurrency: o.concurrency }),
  }
  const runs: ChildRunResult[] = []
  const workers = parallelWorkers()
  const judged = (evidence: CrashResumeEvidence, rest: Omit<CrashResumeResult, 'check' | 'evidence' | 'runs'>) => ({
    check: judgeCrashResume(evidence),
    evidence,
    runs,
    ...rest,
  })

  o.onStep?.(`crash/resume: reference run, ${o.items} items on 1 worker`)
  const reference = await unlessAborted(
    o.signal,
    childRun({ ...base, outDir: join(o.workDir, 'reference'), workers: 1 }),
  )
  runs.push(reference)
  const common = { items: o.items, workers, killSeed: o.killSeed, reference: digestOf(reference) }
  if (!reference.summary?.digest) {
    return judged(common, {
      referenceItemsPerSecond: 0,
      parallel: { workers, items: o.items, retainedBytes: null },
    })
  }

  o.onStep?.(`crash/resume: the same items on ${workers} workers`)
  const other = await unlessAborted(o.signal, childRun({ ...base, outDir: join(o.workDir, 'parallel'), workers }))
  runs.push(other)

  o.onStep?.(`crash/resume: ${o.kills} SIGKILLs at seeded moments, resumed each time`)
  const crashedDir = join(o.workDir, 'crashed')
  const crashed = await crashUntilComplete({ ...base, outDir: crashedDir, workers }, o, reference.summary.wallMs, runs)
  const verified = crashed.digest ? await verifyRun(crashedDir) : undefined
  return judged(
    {
      ...common,
      parallel: digestOf(other),
      crashed,
      ...(verified && {
        verified: {
          complete: verified.complete,
          duplicates: verified.duplicates,
          corrupt: verified.corrupt,
          missing: verified.missing,
          problems: verified.problems.slice(0, 3),
        },
      }),
    },
    {
      referenceItemsPerSecond: reference.summary.itemsPerSecond,
      parallel: { workers, items: o.items, retainedBytes: other.summary?.retainedBytes ?? null },
    },
  )
}

/** The crash/resume verdict of a map job, from what its runs showed. */
export function judgeCrashResume(e: CrashResumeEvidence): CheckResult {
  const title = 'Crash/resume equivalence'
  const expected = e.reference.digest
  if (!expected || !e.parallel || !e.crashed) {
    const reason = `the job does not complete at small scale (${e.items} items): ${e.reference.failure}`
    return {
      id: 'crash-resume',
      title,
      passed: false,
      evidence: reason,
      failures: [reason],
      measurements: { items: e.items },
    }
  }
  const { crashed, parallel, workers } = e
  const failures: string[] = [...crashed.failures]
  if (parallel.digest !== expected) {
    failures.push(
      parallel.digest
        ? `determinism: ${workers} workers made different items than 1 worker (digest ${short(parallel.digest)} ≠ ${short(expected)}). Items must depend only on params, seed and index: draw randomness from ctx.rng, not Math.random, Date.now or state kept between items.`
        : `the run on ${workers} workers did not complete: ${parallel.failure}`,
    )
  }
  if (crashed.digest && crashed.digest !== expected) {
    failures.push(
      `no-loss/no-duplicates/determinism: after ${crashed.kills} crashes and resumes the output differs from the uninterrupted run (digest ${short(crashed.digest)} ≠ ${short(expected)}). Items must depend only on params, seed and index, never on what the process did before.`,
    )
  }
  const v = e.verified
  const verifies = v?.complete && !v.duplicates && !v.corrupt && !v.missing
  if (crashed.digest && !verifies) {
    failures.push(
      `atomic-commit: the crashed run does not verify (${(v?.problems ?? ['not verified']).slice(0, 3).join('; ')})`,
    )
  }
  const passed = failures.length === 0
  return {
    id: 'crash-resume',
    title,
    passed,
    evidence: `${crashed.kills} SIGKILLs (${crashed.atCommit} at a commit) over ${crashed.lives} lives of ${e.items} items; digests ${passed ? 'equal' : 'differ'} (1 worker, ${workers} workers, crashed)`,
    failures,
    measurements: {
      items: e.items,
      kills: crashed.kills,
      killsAtCommit: crashed.atCommit,
      lives: crashed.lives,
      killSeed: e.killSeed,
      digests: { reference: expected, [`${workers} workers`]: parallel.digest, crashed: crashed.digest },
    },
  }
}

function digestOf(run: ChildRunResult): DigestOf {
  return { digest: run.summary?.digest ?? null, failure: run.summary?.digest ? '' : lastLines(run.stderr) }
}

export interface Crashed {
  readonly kills: number
  readonly atCommit: number
  readonly lives: number
  readonly digest: string | null
  readonly failures: string[]
}

/**
 * Starts the run again and again, each life killed either at one of its
 * first commits (2nd to 6th) or by a timer at a random moment after its first
 * commit (with the 8th commit as a backstop), until
 * `kills` crashes have happened; then lets it complete.
 */
export async function crashUntilComplete(
  run: ChildRunOptions,
  o: Pick<CrashResumeOptions, 'killSeed' | 'kills' | 'signal'>,
  referenceWorkMs: number,
  runs: ChildRunResult[],
  commitKills: readonly [first: number, last: number] = [2, 6],
  /** The commit that kills a timer's life if the timer has not fired by then. */
  backstop = 8,
): Promise<Crashed> {
  let rng = prand.xoroshiro128plus(o.killSeed)
  const next = (min: number, max: number): number => {
    const [value, after] = prand.uniformIntDistribution(min, max, rng)
    rng = after
    return value
  }
  let kills = 0
  let atCommit = 0
  let lives = 0
  const maxLives = o.kills * 3 + 2
  while (lives < maxLives) {
    lives++
    const crash = kills < o.kills
    // Odd kills come from a timer anywhere in the run's life (start-up, mid-item, mid-write); the commit kill is the backstop.
    const byTimer = crash && kills % 2 === 1
    const life = await unlessAborted(
      o.signal,
      childRun({
        ...run,
        // Commit kills spread over the first few commits of a life; timer kills over the reference run's working time, counted from this life's first commit.
        ...(crash && { crashAtCommit: byTimer ? backstop : next(commitKills[0], commitKills[1]) }),
        ...(byTimer && { killAfterMs: next(0, Math.max(50, Math.round(referenceWorkMs * 0.8))) }),
      }),
    )
    runs.push(life)
    if (life.killed) {
      kills++
      if (life.killedBy === 'commit') atCommit++
      continue
    }
    if (life.exitCode === 0 && life.summary?.digest)
      return {
        kills,
        atCommit,
        lives,
        digest: life.summary.digest,
        failures: kills < o.kills ? [`only ${kills} of ${o.kills} kills happened before the run completed`] : [],
      }
    return {
      kills,
      atCommit,
      lives,
      digest: null,
      failures: [`resume after ${kills} crash(es) failed (exit ${life.exitCode}): ${lastLines(life.stderr)}`],
    }
  }
  return {
    kills,
    atCommit,
    lives,
    digest: null,
    failures: [`no-loss: the run did not complete after ${lives} restarts; resuming does not make progress`],
  }
}

/** The worker count of the parallel and crashed runs and of the rehearsal: the cores, at least 2 (so parallelism is exercised), at most 4. */
function parallelWorkers(): number {
  return Math.max(2, Math.min(4, availableParallelism()))
}

/** The child's result, unless Ctrl-C came while it ran. */
export async function unlessAborted<T>(signal: AbortSignal | undefined, running: Promise<T>): Promise<T> {
  const result = await running
  if (signal?.aborted)
    throw new InterruptedError('preflight interrupted; no proof was written. Run it again to prove the job.')
  return result
}

function short(digest: string): string {
  return `${digest.slice(0, 12)}…`
}

const PROGRESS_LINE = /^\[[^\]]*\] (RUNNING|STALLED|COMPLETE|FAILED|INTERRUPTED) /

export function lastLines(text: string, n = 3): string {
  // The run's own progress lines would bury the error; its advice to resume is for a user's run, not preflight's.
  const lines = text
    .trim()
    .split('\n')
    .filter((line) => line && !PROGRESS_LINE.test(line) && !/^\s*run the same command/.test(line))
  return lines.length ? lines.slice(-n).join(' | ') : '(no output)'
}
