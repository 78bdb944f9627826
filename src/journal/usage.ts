/**
 * What items reported they used (`ctx.usage`), by named counter: `{ tokens: 812, usd: 0.0012 }`. A range carries the
 * sum over its items into the journal with its commit, so a run's totals are exactly those of its committed items.
 */
export type Usage = Readonly<Record<string, number>>

/** What a committed range's items used: by the attempts that made them, and by attempts that failed before. */
export interface RangeUsage {
  readonly usage?: Usage
  /** Reported by attempts that then threw (retried or rate limited): paid, but not what made an item. */
  readonly failedUsage?: Usage
}

/** A run's totals over its committed ranges. */
export interface UsageTotals {
  readonly usage: Usage
  readonly failedUsage: Usage
}

export const NO_USAGE_TOTALS: UsageTotals = { usage: {}, failedUsage: {} }

/** Adds `amounts` into `into`, counter by counter. */
export function addUsage(into: Record<string, number>, amounts: Usage | undefined): void {
  if (!amounts) return
  // Called for every item made, most of which report nothing: a for…in allocates nothing for an empty object.
  for (const unit in amounts) into[unit] = (into[unit] ?? 0) + (amounts[unit] as number)
}

/** `usage` as stored: undefined when it names nothing. */
export function usageOrUndefined(usage: Usage | undefined): Usage | undefined {
  return usage && Object.keys(usage).length > 0 ? usage : undefined
}

/** `usage` as a journal stores it: JSON, or null when there is none. */
export function usageJson(usage: Usage | undefined): string | null {
  return usage ? JSON.stringify(usage) : null
}

/** What `now` counts beyond `then`, counter by counter: the usage committed between two readings of a run's totals. */
export function usageSince(now: Usage, then: Usage): Usage {
  return Object.fromEntries(Object.entries(now).map(([unit, amount]) => [unit, amount - (then[unit] ?? 0)]))
}

/** Adds the totals `more` to `into`. */
export function addTotals(into: UsageTotals, more: RangeUsage): UsageTotals {
  if (!more.usage && !more.failedUsage) return into
  const usage = { ...into.usage }
  const failedUsage = { ...into.failedUsage }
  addUsage(usage, more.usage)
  addUsage(failedUsage, more.failedUsage)
  return { usage, failedUsage }
}

/** One row of a store's sums: a counter's total over the committed ranges, of the items (`usage`) or of failed attempts. */
export interface UsageSumRow {
  readonly kind: 'usage' | 'failed'
  readonly unit: string
  readonly amount: number
}

/** The totals from a store's sums. */
export function totalsOfRows(rows: readonly UsageSumRow[]): UsageTotals {
  const usage: Record<string, number> = {}
  const failedUsage: Record<string, number> = {}
  for (const row of rows) (row.kind === 'usage' ? usage : failedUsage)[row.unit] = Number(row.amount)
  return { usage, failedUsage }
}
