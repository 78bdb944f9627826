import { join } from 'node:path'
import { runPaths } from '../runner/index.ts'
import { SqliteStore } from '../store/sqlite/sqliteStore.ts'
import type { ChildRunOptions } from './childRun.ts'
import type { Policy } from './policy.ts'
import type { PreflightOptions } from './preflight.ts'

/** What both suites are given. */
export interface SuiteContext {
  readonly o: PreflightOptions
  readonly policy: Policy
  /** Scratch folder, removed at the end. */
  readonly workDir: string
  readonly outDir: string
  readonly fingerprint: string
  /** The options every child run shares. */
  readonly common: Pick<ChildRunOptions, 'jobPath' | 'seed' | 'params' | 'config' | 'signal'>
  readonly step: (message: string) => void
}

export interface RehearsalPlan {
  readonly items: number
  readonly fraction: number
  /** Why the fraction was scaled down, when it was. */
  readonly note: string | undefined
}

/** The policy's fraction of the target, scaled down to fit the time budget (saying so). */
export function rehearsalPlan(target: number, fraction: number, itemsPerSecond: number, budgetSeconds: number | undefined): RehearsalPlan {
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

export async function checkpointTimes(dir: string): Promise<number[]> {
  const store = SqliteStore.open(runPaths(dir).journal, { readonly: true })
  try {
    return (await store.events()).filter((e) => e.type === 'checkpoint').map((e) => e.at)
  } finally {
    await store.close()
  }
}

