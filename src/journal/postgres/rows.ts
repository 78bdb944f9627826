/** The rows of the `longhaul` schema's tables as `pg` reads them that only PostgreSQL has (runs and owners: ../rows.ts). */
import { JournalError } from '../../errors.ts'
import type { RunRecord, ShardFileRecord } from '../store.ts'

export { type OwnerRow, type RunRow, toOwner, toRun } from '../rows.ts'

export interface RangeRow {
  start: number
  stop: number
  files: ShardFileRecord[]
  item_hashes: Buffer
  committed_at: number
}

/** A run id the database does not hold: the error lists the runs it does (the first ten). */
export function noSuchRun(runId: string, where: string, runs: readonly RunRecord[]): JournalError {
  const listed = runs
    .slice(0, 10)
    .map((run) => `${run.runId} (job ${run.job}, ${run.state}, created ${new Date(run.createdAt).toISOString()})`)
  if (runs.length > listed.length) listed.push(`and ${runs.length - listed.length} more`)
  return new JournalError(
    `no run '${runId}' in ${where}; runs there: ${listed.length ? listed.join(', ') : 'none'}. Check the run id.`,
  )
}
