import { readdirSync, readFileSync } from 'node:fs'
import type Database from 'better-sqlite3'
import { JournalError } from '../../errors.ts'

const folder = new URL('./migrations/', import.meta.url)

/** Numbered .sql files, applied in order; PRAGMA user_version records the last one applied. */
function migrations(): { version: number; sql: string }[] {
  return readdirSync(folder)
    .filter((name) => /^\d{3}_.+\.sql$/.test(name))
    .sort()
    .map((name) => ({ version: Number(name.slice(0, 3)), sql: readFileSync(new URL(name, folder), 'utf8') }))
}

export function migrate(db: Database.Database, path: string): void {
  const all = migrations()
  const latest = all.at(-1)?.version ?? 0
  const versionOf = (): number => db.pragma('user_version', { simple: true }) as number
  const current = versionOf()
  if (current > latest) {
    throw new JournalError(
      `journal ${path} has schema version ${current}, this longhaul knows up to ${latest}: run it with a newer longhaul.`,
    )
  }
  if (current === latest) return
  // One process migrates; another that started at the same moment waits for it (immediate: the write lock first), then finds it done.
  db.transaction(() => {
    const now = versionOf()
    for (const { version, sql } of all) {
      if (version <= now) continue
      db.exec(sql)
      db.pragma(`user_version = ${version}`)
    }
  }).immediate()
}
