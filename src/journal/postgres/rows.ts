/** The rows of the `longhaul` schema's tables as `pg` reads them, and the records they stand for. */
import type { OwnerLease, RunKind, RunRecord, RunState, ShardFileRecord } from '../store.ts'

export interface RunRow {
  run_id: string
  job: string
  fingerprint: string
  identity: string
  total: number
  kind: RunKind
  shards_at: string | null
  final_digest: string | null
  state: RunState
  created_at: number
  updated_at: number
}
export interface OwnerRow {
  token: number
  pid: number
  host: string
  since: number
  expires_at: number
}
export interface RangeRow {
  start: number
  stop: number
  files: ShardFileRecord[]
  item_hashes: Buffer
  committed_at: number
}

export function toRun(row: RunRow): RunRecord {
  return {
    runId: row.run_id,
    job: row.job,
    fingerprint: row.fingerprint,
    identity: row.identity,
    total: row.total,
    kind: row.kind,
    shardsAt: row.shards_at,
    finalDigest: row.final_digest,
    state: row.state,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  }
}

export function toOwner(row: OwnerRow): OwnerLease {
  return { token: row.token, pid: row.pid, host: row.host, since: row.since, expiresAt: row.expires_at }
}
