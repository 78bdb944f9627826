/**
 * The one place a journal adapter is built: a SQLite file in a run folder (a
 * run on one machine), or a PostgreSQL database (a run shared by several
 * processes). Nothing outside store/ constructs an adapter. The PostgreSQL
 * adapter, and with it `pg`, is imported only when a database is opened, so a
 * run on one machine never loads it.
 */
import type { Target } from './postgres/connect.ts'
import type { PostgresStore, PostgresStoreOptions } from './postgres/postgresStore.ts'
import { SqliteStore } from './sqlite/sqliteStore.ts'
import type { Store } from './store.ts'

/** A journal file: `.longhaul/journal.sqlite` of a run folder. */
export interface JournalFileAddress {
  readonly file: string
  /** Open it for reading only: nothing is created or migrated. @default false */
  readonly readonly?: boolean
}

/** A PostgreSQL database, and the run of it to attach to (see PostgresStoreOptions). */
export interface JournalDatabaseAddress extends PostgresStoreOptions {
  /** postgres://user[:password]@host[:port]/database; PG* environment variables fill what it leaves out. */
  readonly url: string
}

/** A journal in a file: what the Store port offers, and the frontier its folder's shards are checked against. */
export type JournalFile = SqliteStore
/** A journal in a database: what the Store port offers, and the runs it holds. */
export type JournalDatabase = PostgresStore

/**
 * Opens the journal at `address`. A file that exists and cannot be trusted
 * throws RunDamagedError; a database that cannot be reached,
 * StoreUnavailableError; a database that does not hold `runId`, JournalError.
 */
export async function openStore(address: JournalFileAddress): Promise<JournalFile>
export async function openStore(address: JournalDatabaseAddress): Promise<JournalDatabase>
export async function openStore(address: JournalFileAddress | JournalDatabaseAddress): Promise<Store>
export async function openStore(address: JournalFileAddress | JournalDatabaseAddress): Promise<Store> {
  if ('file' in address) return SqliteStore.open(address.file, { readonly: address.readonly ?? false })
  const { url, ...options } = address
  const { PostgresStore } = await import('./postgres/postgresStore.ts')
  return PostgresStore.open(url, options)
}

/** Whether `store` is a journal file (a run on one machine), whose folder's data/ it alone answers for. */
export function isJournalFile(store: Store): store is JournalFile {
  return store instanceof SqliteStore
}

/** Where a PostgreSQL URL points (environment defaults included), without connecting; throws UsageError for a URL that is not one. */
export async function databaseTarget(url: string): Promise<Target> {
  const { targetOf } = await import('./postgres/connect.ts')
  return targetOf(url)
}
