/** A run's and an owner lease's row as both adapters read them (the same columns in SQLite and PostgreSQL), and the records they stand for. */
import type { OwnerLease, RunKind, RunRecord, RunState } from './store.ts'

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

export function toRun(row: RunRow): RunRecord {
  return {
    runId: row.run_id,
    job: row.job,
    fingerprint: row.fingerprint,
    identity: row.identity,
    total: row.total,
    kind: row.kind,
    // A SQLite journal of schema version 1 read without migrating has no such columns.
    shardsAt: row.shards_at ?? null,
    finalDigest: row.final_digest ?? null,
    state: row.state,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  }
}

export function toOwner(row: OwnerRow): OwnerLease {
  return { token: row.token, pid: row.pid, host: row.host, since: row.since, expiresAt: row.expires_at }
}
