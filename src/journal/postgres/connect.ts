import { createRequire } from 'node:module'
import type pg from 'pg'
import { LonghaulError, NotDurableError, StoreRefusedError, StoreUnavailableError, UsageError } from '../../errors.ts'

/** Where a store's database is, for messages: never the password. */
export interface Target {
  readonly host: string
  readonly port: number
  readonly database: string
  readonly user: string
  /** postgres://user@host:port/database */
  readonly display: string
}

/** The driver, loaded on first use (synchronously: it is CommonJS), so a run whose journal is SQLite never loads it. */
let loaded: typeof pg | undefined
const driver = (): typeof pg => (loaded ??= createRequire(import.meta.url)('pg') as typeof pg)

const URL_SHAPE = 'postgres://user[:password]@host[:port]/database'

/** Parses the URL the way pg will (environment defaults included), without connecting. */
export function targetOf(url: string): Target {
  // Everything between the user and the last '@' is the password, whatever it holds ('/' and '@' included).
  const shown = url.replace(/^([a-z]+:\/\/[^:@/]*):.*@/i, '$1:***@')
  if (!/^postgres(ql)?:\/\//i.test(url)) throw new UsageError(`not a PostgreSQL URL: '${shown}'. Give ${URL_SHAPE}.`)
  let probe: pg.Client
  try {
    probe = new (driver().Client)({ connectionString: url })
  } catch (error) {
    throw new UsageError(`cannot read the PostgreSQL URL '${shown}': ${(error as Error).message}. Give ${URL_SHAPE}.`)
  }
  const host = probe.host || 'localhost'
  const port = probe.port || 5432
  const database = probe.database ?? probe.user ?? ''
  const user = probe.user ?? ''
  return {
    host,
    port,
    database,
    user,
    display: `postgres://${user}@${host.startsWith('/') ? encodeURIComponent(host) : host}:${port}/${database}`,
  }
}

// bigint columns (counts, indices, times in ms, tokens) come back as numbers: all stay below 2^53.
const INT8 = 20
const parseInt8 = (value: string): number => Number(value)
const types = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === INT8 && format !== 'binary'
      ? parseInt8
      : driver().types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
}

/**
 * How long the server lets one of our sessions sit inside a transaction
 * without a statement before it ends the session. Our transactions run their
 * statements back to back, so only a process held up mid-transaction (paused,
 * swapped out) reaches it; without it, its row locks (the run's row is taken
 * FOR UPDATE by every claim) would hold every other process of the run until
 * it woke. It then finds its connection gone and, past its lease, its work
 * taken over (invariant one-owner).
 */
const IDLE_IN_TRANSACTION_MS = 5_000

export function createPool(
  url: string,
  options: { readonly poolSize: number; readonly connectTimeoutMs: number },
): pg.Pool {
  const pool = new (driver().Pool)({
    connectionString: url,
    max: options.poolSize,
    connectionTimeoutMillis: options.connectTimeoutMs,
    idle_in_transaction_session_timeout: IDLE_IN_TRANSACTION_MS,
    types,
  })
  // A connection whose server went away (a restart, a killed backend) also emits 'error', which would end the
  // process unheard. The error that matters reaches the query that was running, or the next one, and is thrown
  // there; the pool then drops the connection and opens a new one. So: idle connections (the pool's event) and
  // checked-out ones (each client's) get a listener that only keeps the process alive.
  pool.on('error', () => {})
  pool.on('connect', (client) => client.on('error', () => {}))
  return pool
}

/** Errors of a connection that never opened, and of one that was open and went away. */
const UNREACHABLE_CODES = new Set(['ECONNREFUSED', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH'])
const LOST_CODES = new Set(['ECONNRESET', 'EPIPE'])

/**
 * Turns a driver error into longhaul's: the server unreachable or gone
 * (StoreUnavailableError), a refused login or a missing database
 * (StoreRefusedError), a full disk on the server (NotDurableError). Anything
 * else is a bug or a constraint violation and is returned as it is.
 */
export function translate(error: unknown, target: Target, what: string): unknown {
  if (error instanceof LonghaulError) return error
  const code = String((error as { code?: unknown }).code ?? '')
  const message = driverMessage(error)
  const where = `PostgreSQL at ${target.host}:${target.port}`
  if (code === '28P01' || code === '28000') {
    return new StoreRefusedError(
      `${where} refused user '${target.user}' for database '${target.database}': ${message}. ` +
        `Check the user and password in the URL (or PGUSER, PGPASSWORD, ~/.pgpass) and the server's pg_hba.conf.`,
      error,
    )
  }
  if (code === '3D000') {
    return new StoreRefusedError(
      `database '${target.database}' does not exist on ${where}. Create it (createdb ${target.database}, or CREATE DATABASE "${target.database}") or fix the database name in the URL.`,
      error,
    )
  }
  if (code === '42501') {
    return new StoreRefusedError(
      `user '${target.user}' lacks the rights for ${what} in ${target.display}: ${message}. Grant them (the first start needs CREATE on the database).`,
      error,
    )
  }
  if (code.startsWith('53')) return new NotDurableError(`${what} in ${target.display}`, error)
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') {
    return new StoreUnavailableError(
      `cannot reach ${where} for ${what}: the host name '${target.host}' does not resolve (${message}). Check the host in the URL, and the machine's DNS.`,
      error,
    )
  }
  if (UNREACHABLE_CODES.has(code) || /timeout/i.test(message)) {
    return new StoreUnavailableError(
      `cannot reach ${where} (database '${target.database}', user '${target.user}') for ${what}: ${message}. ` +
        `Check that the server is running and listens on ${target.host}:${target.port} (listen_addresses and port in postgresql.conf), ` +
        `that no firewall is in the way, and that the URL is right. Committed work is safe in the journal: run again once the server answers.`,
      error,
    )
  }
  if (
    LOST_CODES.has(code) ||
    code.startsWith('08') ||
    code.startsWith('57P') ||
    /terminated|Connection closed|not queryable/i.test(message)
  ) {
    return new StoreUnavailableError(
      `lost the connection to ${where} (database '${target.database}') during ${what}: ${message}. ` +
        `Whatever that call was writing is either wholly recorded or not at all; committed work is safe in the journal. ` +
        `Check the server (restarted? failed over? its log says why it ended the connection) and run again once it answers.`,
      error,
    )
  }
  return error
}

/** What the driver said: an AggregateError (every address of a host refused) has no message of its own, its first error does. */
export function driverMessage(error: unknown): string {
  return error instanceof Error
    ? error.message || String((error as { errors?: unknown[] }).errors?.[0] ?? error.name)
    : String(error)
}
