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
  for (const [unit, amount] of Object.entries(amounts)) into[unit] = (into[unit] ?? 0) + amount
}

/** `usage` as stored: undefined when it names nothing. */
export function usageOrUndefined(usage: Usage | undefined): Usage | undefined {
  return usage && Object.keys(usage).length > 0 ? usage : undefined
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
