import { runPaths } from '../files/runDir.ts'
import { openStore } from '../journal/openStore.ts'
import type { ChildRunOptions, ChildRunResult } from './childRun.ts'
import { type CommitPoint, overheadMs } from './estimates.ts'
import type { PreflightOptions } from './options.ts'
import type { Policy } from './policy.ts'

/** What both suites are given. */
export interface SuiteContext {
  readonly o: PreflightOptions
  readonly policy: Policy
  /** Scratch folder, removed at the end. */
  readonly workDir: string
  readonly outDir: string
  readonly fingerprint: string
  /** The options every child run shares. */
  readonly common: Pick<ChildRunOptions, 'jobPath' | 'seed' | 'params' | 'config' | 'signal' | 'concurrency'>
  readonly step: (message: string) => void
}

export interface RehearsalPlan {
  readonly items: number
  readonly fraction: number
  /** Why the fraction was scaled down, when it was. */
  readonly note: string | undefined
}

/** The policy's fraction of the target, scaled down to fit the time budget (saying so). */
export function rehearsalPlan(
  target: number,
  fraction: number,
  itemsPerSecond: number,
  budgetSeconds: number | undefined,
): RehearsalPlan {
  const wanted = Math.max(1, Math.ceil(target * fraction))
  if (budgetSeconds === undefined || !(itemsPerSecond > 0) || wanted / itemsPerSecond <= budgetSeconds) {
    return { items: wanted, fraction: wanted / target, note: undefined }
  }
  const items = Math.max(1, Math.min(wanted, Math.floor(itemsPerSecond * budgetSeconds)))
  return {
    items,
    fraction: items / target,
    note: `scaled down from ${(fraction * 100).toFixed(1)}% to fit --rehearsal-budget ${budgetSeconds}s (about ${Math.round(wanted / itemsPerSecond)}s at the measured ${Math.round(itemsPerSecond)} items/s); projections rest on fewer items`,
  }
}

/** A run's commits in time order, each with the items committed by then: the timeline its projection is made from. */
export async function commitTimeline(dir: string): Promise<CommitPoint[]> {
  const store = await openStore({ file: runPaths(dir).journal, readonly: true })
  try {
    let done = 0
    return (await store.events())
      .filter((e) => e.type === 'checkpoint')
      .sort((a, b) => a.at - b.at)
      .map((e) => {
        // A map job's commit names its range; a loop's checkpoint, the steps done by then.
        const { start, end, step } = e.detail as { start?: number; end?: number; step?: number }
        done =
          typeof step === 'number'
            ? step
            : done + (typeof start === 'number' && typeof end === 'number' ? end - start : 0)
        return { at: e.at, done }
      })
  } finally {
    await store.close()
  }
}

/**
 * A run's finished count as its progress.json showed it (committed and in
 * flight), from the first moment something had finished: a loop commits only
 * at its checkpoints, so its timeline comes from here.
 */
export function finishedTimeline(run: ChildRunResult): CommitPoint[] {
  return run.samples
    .filter((s) => (s.state === 'running' || s.state === 'complete') && s.done + s.inFlight > 0)
    .map((s) => ({ at: s.at, done: s.done + s.inFlight }))
}

/**
 * The fixed part of every run that started fresh and completed (see
 * projectDuration), ms: the crash/resume check's uninterrupted runs, the
 * rehearsal, the memory baseline. Killed and resumed lives are left out: a
 * resume re-reads what was committed, which a fresh run does not.
 */
export async function fixedParts(runs: readonly ChildRunResult[]): Promise<number[]> {
  const parts: number[] = []
  for (const run of runs) {
    if (run.killed || run.exitCode !== 0 || run.summary?.resumed !== false) continue
    const part = overheadMs(run.wallMs, await commitTimeline(run.outDir).catch(() => []))
    if (part !== undefined) parts.push(part)
  }
  return parts
}
