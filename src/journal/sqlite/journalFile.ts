/**
 * A journal file made whole before anyone sees it, and checked for the
 * tables of a run when it is opened.
 */
import { randomBytes } from 'node:crypto'
import { existsSync, linkSync, mkdirSync, renameSync, rmSync } from 'node:fs'
import { basename, dirname, join } from 'node:path'
import Database from 'better-sqlite3'
import { RunDamagedError } from '../../errors.ts'
import { fsyncDir } from '../../files/atomicFile.ts'
import { runDirOf } from './journalHealth.ts'
import { migrate } from './migrate.ts'

/** How long a command waits for another process's write to the journal before it says the journal is busy. */
export const BUSY_TIMEOUT_MS = 5000

/**
 * A journal connection's page cache: SQLite's own default (2,000 KiB) rather than better-sqlite3's 16 MiB. The item
 * hashes (32 B an item) pass through it on their way to disk and are read back once (digest, verify), so a larger
 * cache only grew with the run (16 MiB more at 1,000,000 items); the pages used again and again (run, claims) are few.
 */
export const PAGE_CACHE_PRAGMA = 'cache_size = -2000'

/** The tables every journal holds once migrated; one that lacks them lost them (truncated, or its write-ahead log removed). */
export function assertSchema(db: Database.Database, path: string): void {
  const tables = new Set(
    db
      .prepare<[], { name: string }>("SELECT name FROM sqlite_master WHERE type = 'table'")
      .all()
      .map((row) => row.name),
  )
  const missing = ['run', 'owner', 'claims', 'ranges', 'events'].filter((name) => !tables.has(name))
  if (missing.length > 0) {
    throw new RunDamagedError(
      runDirOf(path),
      `its journal ${path} lacks the tables of a run (${missing.join(', ')}): it was truncated, or its write-ahead log (${basename(path)}-wal) was removed`,
    )
  }
}

/**
 * Makes a new journal whole before anyone can see it: schema written to a
 * temporary file, closed (so the file alone holds it), then linked into
 * place. Of several processes creating the same journal at once, one link
 * wins and the others open that one; no process ever sees a journal without
 * its tables, so one that lacks them is damaged.
 */
export function createJournal(path: string): void {
  const folder = dirname(path)
  mkdirSync(folder, { recursive: true })
  const temp = join(folder, `.tmp-${process.pid}-${randomBytes(4).toString('hex')}-${basename(path)}`)
  try {
    const db = new Database(temp, { timeout: BUSY_TIMEOUT_MS })
    try {
      db.pragma('journal_mode = WAL')
      db.pragma('synchronous = FULL')
      migrate(db, temp)
    } finally {
      db.close()
    }
    try {
      linkSync(temp, path)
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code
      if (code === 'EEXIST') return
      // A file system without hard links: a rename, which a racing creator may repeat harmlessly (both files hold only the schema).
      if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP' && code !== 'ENOSYS') throw error
      if (!existsSync(path)) renameSync(temp, path)
    }
    fsyncDir(folder)
  } finally {
    for (const suffix of ['', '-wal', '-shm']) rmSync(`${temp}${suffix}`, { force: true })
  }
}
