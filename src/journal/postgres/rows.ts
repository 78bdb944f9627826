/** The rows of the `longhaul` schema's tables as `pg` reads them that only PostgreSQL has (runs and owners: ../rows.ts). */
import type { ShardFileRecord } from '../store.ts'

export { type OwnerRow, type RunRow, toOwner, toRun } from '../rows.ts'

export interface RangeRow {
  start: number
  stop: number
  files: ShardFileRecord[]
  item_hashes: Buffer
  committed_at: number
}
