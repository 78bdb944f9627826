import { readdirSync, readFileSync } from 'node:fs'
import type Database from 'better-sqlite3'
import { JournalError } from '../../errors.ts'
import { oldRunColumns, PAST_EVENT_TYPES, type RunColumns } from '../oldRunColumns.ts'

const folder = new URL('./migrations/', import.meta.url)

/** Numbered .sql files, applied in order; PRAGMA user_version records the last one applied. */
function migrations(): { version: number; sql: string }[] {
  return readdirSync(folder)
    .filter((name) => /^\d{3}_.+\.sql$/.test(name))
    .sort()
    .map((name) => ({ version: Number(name.slice(0, 3)), sql: readFileSync(new URL(name, folder), 'utf8') }))
}

/** The first schema whose run has the columns `kind`, `shards_at` and `final_digest`. */
export const RUN_COLUMNS_VERSION = 2

/** The first schema with the table `range_usage`. */
export const USAGE_VERSION = 3

/** What a migration's SQL cannot do alone, done right after it in the same transaction. */
const after: Readonly<Record<number, (db: Database.Database) => void>> = {
  [RUN_COLUMNS_VERSION]: (db) => {
    const columns = runColumnsFromHistory(db)
    if (columns)
      db.prepare('UPDATE run SET kind = ?, shards_at = ?, final_digest = ? WHERE id = 1').run(
        columns.kind,
        columns.shardsAt,
        columns.finalDigest,
      )
  },
}

/** The run's kind, where its shards go and its digest as a journal of version 1 tells them; undefined when it holds no run. */
export function runColumnsFromHistory(db: Database.Database): RunColumns | undefined {
  const run = db.prepare<[], { identity: string }>('SELECT identity FROM run WHERE id = 1').get()
  if (!run) return undefined
  const events = db
    .prepare<string[], { type: string; detail: string }>(
      `SELECT type, detail FROM events WHERE type IN (${PAST_EVENT_TYPES.map(() => '?').join(', ')}) ORDER BY id`,
    )
    .all(...PAST_EVENT_TYPES)
    .map((row) => ({ type: row.type, detail: JSON.parse(row.detail) as unknown }))
  return oldRunColumns(run.identity, events)
}

/** The schema version of the journal (PRAGMA user_version). */
export function schemaVersion(db: Database.Database): number {
  return db.pragma('user_version', { simple: true }) as number
}

export function migrate(db: Database.Database, path: string): void {
  const all = migrations()
  const latest = all.at(-1)?.version ?? 0
  const current = schemaVersion(db)
  if (current > latest) {
    throw new JournalError(
      `journal ${path} has schema version ${current}, this longhaul knows up to ${latest}: run it with a newer longhaul.`,
    )
  }
  if (current === latest) return
  // One process migrates; another that started at the same moment waits for it (immediate: the write lock first), then finds it done.
  db.transaction(() => {
    const now = schemaVersion(db)
    for (const { version, sql } of all) {
      if (version <= now) continue
      db.exec(sql)
      after[version]?.(db)
      db.pragma(`user_version = ${version}`)
    }
  }).immediate()
}
