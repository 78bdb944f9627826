/**
 * What can be wrong with a SQLite journal file, said in words: one place that
 * turns SQLite's error codes into longhaul's typed errors (a damaged run, a
 * disk that fails, a journal another process keeps locked), and looks at the
 * journal's files before SQLite opens them, while the evidence of a lost
 * write-ahead log is still there.
 */
import { closeSync, existsSync, openSync, readSync, statfsSync, statSync } from 'node:fs'
import { endianness } from 'node:os'
import { basename, dirname, join, relative } from 'node:path'
import { JournalBusyError, JournalDiskError, RunDamagedError } from '../../errors.ts'

/** The run folder a journal belongs to: DIR for DIR/.longhaul/journal.sqlite. */
export function runDirOf(journal: string): string {
  const folder = dirname(journal)
  return basename(folder) === '.longhaul' ? dirname(folder) : folder
}

/** A journal's file as people see it: .longhaul/journal.sqlite, relative to its run folder. */
function shown(journal: string, file = journal): string {
  return relative(runDirOf(journal), file) || file
}

const MAGIC = Buffer.from('SQLite format 3\0', 'latin1')

/**
 * Looks at an existing journal's files before SQLite opens them. Returns
 * what is damaged, in words, or undefined when nothing is seen: the file
 * empty or not a SQLite database, or a write-ahead log that is gone (or cut
 * short) while its index (-shm) says it held commits not yet copied into the
 * journal. SQLite would start a new log over that index and forget those
 * commits without a word; a crash (SIGKILL, power loss) leaves both files,
 * so the index alone means the log was removed by hand.
 */
export function journalFileDamage(journal: string): string | undefined {
  const size = statSync(journal, { throwIfNoEntry: false })?.size
  if (size === undefined) return undefined
  if (size === 0) return `its journal ${shown(journal)} is empty (0 bytes): it was truncated`
  const head = readHead(journal, MAGIC.length)
  if (!head.equals(MAGIC)) return `its journal ${shown(journal)} is not a SQLite database (its first bytes are garbled)`
  return lostLog(journal)
}

function lostLog(journal: string): string | undefined {
  const shm = `${journal}-shm`
  const wal = `${journal}-wal`
  if (!existsSync(shm)) return undefined
  // The wal-index header, twice (offsets 0 and 48), then the checkpoint info: nBackfill at 96. Native byte order.
  const head = readHead(shm, 100)
  if (head.length < 100 || head[12] !== 1 || !head.subarray(0, 48).equals(head.subarray(48, 96))) return undefined
  const le = endianness() === 'LE'
  const u32 = (at: number): number => (le ? head.readUInt32LE(at) : head.readUInt32BE(at))
  const u16 = (at: number): number => (le ? head.readUInt16LE(at) : head.readUInt16BE(at))
  const frames = u32(16)
  const backfilled = u32(96)
  if (frames <= backfilled) return undefined
  const pageSize = u16(14) === 1 ? 65_536 : u16(14)
  const needed = 32 + frames * (24 + pageSize)
  const walSize = statSync(wal, { throwIfNoEntry: false })?.size
  if (walSize !== undefined && walSize >= needed) return undefined
  const what = walSize === undefined ? 'is missing' : `is cut short (${walSize} of at least ${needed} bytes)`
  return (
    `its journal's write-ahead log ${shown(journal, wal)} ${what}, though ${shown(journal, shm)} shows it held ` +
    `${frames - backfilled} page(s) of commits not yet copied into ${shown(journal)}: the journal has lost its latest records ` +
    `(the shard files in data/ are untouched). If you have the log (a backup, a copy), put it back as ${shown(journal, wal)} and run the command again`
  )
}

function readHead(path: string, bytes: number): Buffer {
  const fd = openSync(path, 'r')
  try {
    const buffer = Buffer.alloc(bytes)
    return buffer.subarray(0, readSync(fd, buffer, 0, bytes, 0))
  } finally {
    closeSync(fd)
  }
}

/**
 * The typed error a SQLite failure on `journal` stands for; any other error
 * is returned as it is. `doing` says what longhaul was doing, for the message.
 */
export function journalFailure(error: unknown, journal: string, doing: string): unknown {
  const code = (error as { code?: unknown }).code
  if (typeof code !== 'string' || !code.startsWith('SQLITE_')) return error
  const reason = `${(error as Error).message.replace(/\.$/, '')} (${code})`
  const dir = runDirOf(journal)
  if (/^SQLITE_(CORRUPT|NOTADB)/.test(code))
    return new RunDamagedError(dir, `its journal ${shown(journal)} is unreadable: ${reason}`)
  if (code === 'SQLITE_ERROR' && /no such table|no such column/.test(reason)) {
    return new RunDamagedError(
      dir,
      `its journal ${shown(journal)} lacks the records of a run: ${reason}; it was truncated or lost its write-ahead log`,
    )
  }
  if (/^SQLITE_(BUSY|LOCKED)/.test(code)) {
    return new JournalBusyError(
      `the journal ${journal} stayed locked by another process while ${doing} (${code}): another longhaul command is at work on ${dir}. ` +
        `Run this command again once it is done; \`longhaul status ${dir}\` shows whether a run is live.`,
      error,
    )
  }
  if (/^SQLITE_(IOERR|FULL|CANTOPEN|READONLY)/.test(code)) {
    return new JournalDiskError(
      `cannot use the journal ${journal} while ${doing}: ${reason}.${diskNote(journal)} Nothing was changed.`,
      error,
    )
  }
  return error
}

/** What the disk under `journal` says about the failure: full, or to be checked. */
function diskNote(journal: string): string {
  try {
    const fs = statfsSync(dirname(journal))
    const free = fs.bavail * fs.bsize
    if (free < 1024 * 1024) {
      return ` The disk holding it is full (${free} bytes free in ${dirname(journal)}): free some space and run the same command again; committed work is safe.`
    }
  } catch {
    // No figures: the general advice below.
  }
  return ` Check the disk holding ${join(dirname(journal))} (free space, permissions, its health), then run the same command again; committed work is safe.`
}
