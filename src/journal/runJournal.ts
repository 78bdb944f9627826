/**
 * Where a run folder's journal is: `.longhaul/journal.sqlite` in the folder
 * (a run on one machine), or the PostgreSQL run that `.longhaul/store.json`
 * names (a run shared by several processes). Whoever reads a run folder —
 * `verify`, `status`, the dashboard — opens its journal here.
 */
import { existsSync } from 'node:fs'
import { basename } from 'node:path'
import { FileRefusedError, JournalError } from '../errors.ts'
import { fsyncDir, writeFileAtomic } from '../files/atomicFile.ts'
import { readRegularFile } from '../files/regularFile.ts'
import { hasRun, type RunPaths, runPaths } from '../files/runPaths.ts'
import { openStore } from './openStore.ts'
import type { Store } from './store.ts'

/** What `.longhaul/store.json` holds: where the journal is (never a password), which run of it this folder's is, and its bucket if shards go to one. */
export interface StoreLink {
  readonly store: string
  readonly runId: string
  /** s3://bucket/prefix when the run's shards are in a bucket rather than this folder's data/. */
  readonly shards?: string
}

/** The run the shared folder `dir` belongs to; undefined when it records none. */
export function readStoreLink(dir: string): StoreLink | undefined {
  const path = runPaths(dir).storeLink
  if (!existsSync(path)) return undefined
  try {
    const link = JSON.parse(readRegularFile(path).toString('utf8')) as StoreLink
    if (typeof link.store === 'string' && typeof link.runId === 'string') return link
  } catch (error) {
    if (error instanceof FileRefusedError) throw error
    // Otherwise reported below.
  }
  throw new JournalError(
    `${path} is unreadable: it should say which run of which database ${dir} belongs to. Restore it, or choose a new --out folder.`,
  )
}

export function writeStoreLink(paths: RunPaths, link: StoreLink): void {
  writeFileAtomic(paths.internal, basename(paths.storeLink), [Buffer.from(`${JSON.stringify(link, null, 1)}\n`)])
  fsyncDir(paths.internal)
}

export interface OpenedJournal {
  readonly store: Store
  /** Set when the journal is in PostgreSQL: the run the folder names. */
  readonly link: StoreLink | undefined
}

export interface OpenJournalOptions {
  /** The database's URL, overriding the folder's link (which holds no password). @default the link's */
  readonly storeUrl?: string
  /** How long to wait for a PostgreSQL server to accept a connection. @default 10_000 */
  readonly connectTimeoutMs?: number
}

/**
 * Opens the journal of the run in `dir` for reading; undefined when the
 * folder holds no run. A PostgreSQL journal takes its password from
 * PGPASSWORD or ~/.pgpass; a server that cannot be reached throws
 * StoreUnavailableError.
 */
export async function openRunJournal(
  dir: string,
  options: OpenJournalOptions = {},
): Promise<OpenedJournal | undefined> {
  if (hasRun(dir)) return { store: await openStore({ file: runPaths(dir).journal, readonly: true }), link: undefined }
  const link = readStoreLink(dir)
  if (!link) return undefined
  const store = await openStore({
    url: options.storeUrl ?? link.store,
    runId: link.runId,
    poolSize: 1,
    ...(options.connectTimeoutMs !== undefined && { connectTimeoutMs: options.connectTimeoutMs }),
  })
  return { store, link }
}
