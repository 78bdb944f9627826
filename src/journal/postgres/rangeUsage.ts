/** The SQL of what ranges' items reported with ctx.usage (../usage.ts), in PostgreSQL's dialect. */
import type pg from 'pg'
import type { CommittedRange } from '../store.ts'
import { usageJson } from '../usage.ts'

/** Records what a range's items used, in the transaction that commits the range; nothing when they reported nothing. */
export async function insertRangeUsage(tx: pg.ClientBase, runId: string, range: CommittedRange): Promise<void> {
  if (!range.usage && !range.failedUsage) return
  await tx.query('INSERT INTO longhaul.range_usage (run_id, start, usage, failed_usage) VALUES ($1, $2, $3, $4)', [
    runId,
    range.start,
    usageJson(range.usage),
    usageJson(range.failedUsage),
  ])
}

const sums = (kind: string, column: string): string =>
  `SELECT '${kind}' AS kind, u.key AS unit, sum(u.value::double precision) AS amount
     FROM longhaul.range_usage r, jsonb_each_text(r.${column}) u WHERE r.run_id = $1 GROUP BY u.key`

/** A run's totals by counter ($1: the run), as UsageSumRow rows. */
export const USAGE_SUMS = `${sums('usage', 'usage')} UNION ALL ${sums('failed', 'failed_usage')}`
