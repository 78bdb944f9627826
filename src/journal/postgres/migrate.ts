import { readdirSync, readFileSync } from 'node:fs'
import type pg from 'pg'
import { JournalError } from '../../errors.ts'
import { oldRunColumns, PAST_EVENT_TYPES, type PastEvent } from '../oldRunColumns.ts'
import type { Target } from './connect.ts'

const folder = new URL('./migrations/', import.meta.url)

/** Every migrating process takes this transaction-level advisory lock first, so concurrent first starts apply each migration once. */
export const MIGRATION_LOCK = 0x6c6f6e67 // 'long'

export interface Migration {
  readonly version: number
  readonly name: string
  readonly sql: string
}

/** Numbered files NNN-name.sql, in order. */
export function migrations(): Migration[] {
  return readdirSync(folder)
    .filter((name) => /^\d{3}-.+\.sql$/.test(name))
    .sort()
    .map((name) => ({
      version: Number(name.slice(0, 3)),
      name: name.slice(4, -4),
      sql: readFileSync(new URL(name, folder), 'utf8'),
    }))
}

export const LATEST_VERSION = migrations().at(-1)?.version ?? 0

/** What a migration's SQL cannot do alone, done right after it in the same transaction. */
const after: Readonly<Record<number, (client: pg.ClientBase) => Promise<void>>> = {
  // Every run recorded before gets its kind, where its shards go and its digest from its history.
  2: async (client) => {
    const runs = await client.query<{ run_id: string; identity: string }>('SELECT run_id, identity FROM longhaul.runs')
    const { rows } = await client.query<PastEvent & { run_id: string }>(
      'SELECT run_id, type, detail FROM longhaul.events WHERE type = ANY($1) ORDER BY id',
      [PAST_EVENT_TYPES],
    )
    for (const run of runs.rows) {
      const columns = oldRunColumns(
        run.identity,
        rows.filter((e) => e.run_id === run.run_id),
      )
      await client.query('UPDATE longhaul.runs SET kind = $2, shards_at = $3, final_digest = $4 WHERE run_id = $1', [
        run.run_id,
        columns.kind,
        columns.shardsAt,
        columns.finalDigest,
      ])
    }
  },
}

/**
 * Brings the `longhaul` schema up to this code's version. An up-to-date
 * database is only read (a worker's role needs no CREATE right). Otherwise,
 * under the advisory lock, one transaction makes the schema, the
 * `schema_version` table and every missing migration appear together or not
 * at all. A database migrated by a newer longhaul is refused.
 */
export async function migrate(client: pg.ClientBase, target: Target): Promise<void> {
  if (refuseNewer(await schemaVersion(client), target) === LATEST_VERSION) return
  await client.query('BEGIN')
  try {
    await client.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK])
    await client.query('CREATE SCHEMA IF NOT EXISTS longhaul')
    await client.query(
      `CREATE TABLE IF NOT EXISTS longhaul.schema_version (
         version    integer     PRIMARY KEY,
         name       text        NOT NULL,
         applied_at timestamptz NOT NULL DEFAULT now()
       )`,
    )
    // Read again under the lock: another process may have migrated while this one waited.
    const current = refuseNewer(await schemaVersion(client), target)
    for (const { version, name, sql } of migrations()) {
      if (version <= current) continue
      await client.query(sql)
      await after[version]?.(client)
      await client.query('INSERT INTO longhaul.schema_version (version, name) VALUES ($1, $2)', [version, name])
    }
    await client.query('COMMIT')
  } catch (error) {
    // The first error is the one to report; a broken connection cannot roll back and is dropped by the caller.
    await client.query('ROLLBACK').catch(() => undefined)
    throw error
  }
}

/** The last migration applied; 0 for a database longhaul has never used. */
async function schemaVersion(client: pg.ClientBase): Promise<number> {
  const { rows } = await client.query<{ present: boolean }>(
    "SELECT to_regclass('longhaul.schema_version') IS NOT NULL AS present",
  )
  if (!rows[0]?.present) return 0
  const version = await client.query<{ version: number | null }>(
    'SELECT max(version) AS version FROM longhaul.schema_version',
  )
  return version.rows[0]?.version ?? 0
}

function refuseNewer(current: number, target: Target): number {
  if (current > LATEST_VERSION) {
    throw new JournalError(
      `${target.display} has longhaul schema version ${current}, and this longhaul knows up to ${LATEST_VERSION}: ` +
        `upgrade longhaul on this machine (npm install longhaul@latest); every machine of a run needs a longhaul that knows version ${current}.`,
    )
  }
  return current
}
