/**
 * What the target will use and cost, projected from what the items of preflight's runs reported with `ctx.usage`
 * (progress.json's `usage`, and `usageOnFailedAttempts`: a paid call that failed was still paid). Like the duration's
 * fixed part (estimates.ts), the interval spans the per-item figures of every complete fresh run, widened by half
 * their spread on each side, and by at least a tenth: those runs make the target's first items only, so items that
 * use more further on (longer prompts at the end of the input) are not seen.
 */

import { addUsage } from '../journal/usage.ts'
import { dollars, usageText } from '../telemetry/progressText.ts'
import type { Usage } from '../telemetry/snapshot.ts'
import type { ChildRunResult } from './childRun.ts'

/** One complete run: its items, and what they used, failed attempts included. */
export interface UsagePoint {
  readonly items: number
  readonly paid: Usage
}

export interface CostProjection {
  /** By counter: the rehearsal's per-item figure, the target's total at it, and the interval. */
  readonly perItem: Usage
  readonly projected: Usage
  readonly low: Usage
  readonly high: Usage
  /** The runs the interval spans. */
  readonly runs: number
}

/** What a run that started fresh and completed used, per its final progress.json; undefined for any other run, or one whose items reported nothing. */
export function usagePointOf(run: ChildRunResult): UsagePoint | undefined {
  const snapshot = run.finalSnapshot
  if (run.killed || run.exitCode !== 0 || run.summary?.resumed !== false || !snapshot?.usage || !(snapshot.done > 0))
    return undefined
  const paid: Record<string, number> = { ...snapshot.usage }
  addUsage(paid, snapshot.usageOnFailedAttempts)
  return { items: snapshot.done, paid }
}

/** The target's usage from the rehearsal's per-item figures (`rehearsal`), with the interval the other runs give. */
export function projectUsage(
  rehearsal: UsagePoint | undefined,
  others: readonly (UsagePoint | undefined)[],
  target: number,
): CostProjection | undefined {
  if (!rehearsal) return undefined
  const points = [rehearsal, ...others.filter((p): p is UsagePoint => p !== undefined)]
  const perItem: Record<string, number> = {}
  const projected: Record<string, number> = {}
  const low: Record<string, number> = {}
  const high: Record<string, number> = {}
  for (const [unit, amount] of Object.entries(rehearsal.paid)) {
    perItem[unit] = amount / rehearsal.items
    const rates = points.map((p) => (p.paid[unit] ?? 0) / p.items)
    const least = Math.min(...rates)
    const most = Math.max(...rates)
    const slack = Math.max((most - least) / 2, 0.1 * perItem[unit])
    projected[unit] = perItem[unit] * target
    low[unit] = Math.max(0, least - slack) * target
    high[unit] = (most + slack) * target
  }
  return { perItem, projected, low, high, runs: points.length }
}

/** "$1.20 ($1.08 – $1.32), 812,000 tokens (730,800 – 893,200) at the target; $0.0012, 812 tokens an item". */
export function costText(cost: CostProjection | undefined): string {
  if (!cost) return 'no usage reported (ctx.usage): no cost projected'
  const units = Object.keys(cost.projected).sort((a, b) => (a === 'usd' ? -1 : b === 'usd' ? 1 : a.localeCompare(b)))
  const one = (unit: string): string =>
    `${usageText({ [unit]: cost.projected[unit]! })} (${usageText({ [unit]: cost.low[unit]! })} – ${usageText({ [unit]: cost.high[unit]! })})`
  return `usage at the target ${units.map(one).join(', ')}; ${usageText(cost.perItem)} an item`
}

/** The policy's cap on the projected cost: the failure naming the numbers, or undefined when within it (or no cap). */
export function costOverCap(
  cost: CostProjection | undefined,
  maxCostUsd: number | undefined,
  target: number,
): string | undefined {
  if (maxCostUsd === undefined) return undefined
  if (!cost || cost.high.usd === undefined)
    return `cost: the policy caps it at maxCostUsd ${dollars(maxCostUsd)}, but the rehearsal's items reported no usd with ctx.usage({ usd }): report each call's cost, or remove the cap`
  if (cost.high.usd <= maxCostUsd) return undefined
  return `cost: ${target.toLocaleString('en-US')} items project to ${dollars(cost.projected.usd!)} (${dollars(cost.low.usd!)} – ${dollars(cost.high.usd)}, at ${dollars(cost.perItem.usd!)} an item), above the policy's maxCostUsd ${dollars(maxCostUsd)}: lower the target, make the items cheaper, or raise the cap`
}
