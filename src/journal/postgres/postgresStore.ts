import type pg from 'pg'
import { JournalError, LeaseLostError, StoreUnavailableError } from '../../errors.ts'
import type {
  Claim,
  CommittedRange,
  NewRun,
  OwnerInfo,
  OwnerLease,
  RangeSummary,
  RunEvent,
  RunRecord,
  RunState,
  Store,
} from '../store.ts'
import { totalsOfRows, type UsageSumRow, type UsageTotals } from '../usage.ts'
import { createPool, type Target, targetOf, translate } from './connect.ts'
import { migrate } from './migrate.ts'
import { type OutageChange, OutageRetry } from './outage.ts'
import { insertRangeUsage, USAGE_SUMS } from './rangeUsage.ts'
import { noSuchRun, type OwnerRow, type RangeRow, type RunRow, toOwner, toRun } from './rows.ts'

export interface PostgresStoreOptions {
  /**
   * Attach to this run, which must exist (a worker joining a run). Without
   * it the store acts on no run until `createRun` records one.
   * @default undefined
   */
  readonly runId?: string
  /** Connections the store may hold open. @default 4 */
  readonly poolSize?: number
  /** How long to wait for the server to accept a connection. @default 10_000 */
  readonly connectTimeoutMs?: number
  /**
   * Once the store is open, how long its calls wait for a server that stopped
   * answering (a restart, a failover) before they throw StoreUnavailableError,
   * ms: each call is tried again with a short backoff. Opening never waits: a
   * server that is not there at the start is more likely a wrong URL.
   * @default 0 (a call throws at once)
   */
  readonly waitForServerMs?: number
  /** Told once when the server stops answering, and once when it answers again. @default undefined */
  readonly onOutage?: (change: OutageChange) => void
}

/** Deadlocks and serialization failures: the transaction did nothing and may simply be run again. */
const RETRYABLE = new Set(['40P01', '40001'])
const ATTEMPTS = 3
/** Ranges whose first item falls in a window of this many items are read at once, so memory stays bounded. */
const HASH_WINDOW = 65_536
const SUMMARY_PAGE = 1_000

/**
 * The journal for runs that span machines: a PostgreSQL database holding any
 * number of runs in the `longhaul` schema. A store acts on one run: the one it
 * was opened with (`{ runId }`), or the one its `createRun` records. Claims
 * are taken with `FOR UPDATE SKIP LOCKED`, so concurrent workers never wait on
 * each other's free ranges; every claim and owner lease carries a fencing
 * token from one sequence, and a commit is refused unless its token still
 * holds the items. Lease times are the caller's `now`, never the server's
 * clock. Every write is one transaction with synchronous_commit on: when it
 * returns, it is durable on the server.
 */
export class PostgresStore implements Store {
  private closed = false
  /** Opening does not wait for the server; `open` sets the patience asked for once the store is open. */
  private outage = new OutageRetry(0, undefined)
  /** The newest claim token this store returned: a claim of the same worker with a newer one is not its caller's. */
  private lastClaimToken = 0

  private constructor(
    private readonly pool: pg.Pool,
    private readonly target: Target,
    private runId: string | undefined,
  ) {}

  /**
   * Connects to the database at `url` (a postgres:// URL; PG* environment
   * variables fill what it leaves out), brings the schema up to date and,
   * with `runId`, attaches to that run.
   */
  static async open(url: string, options: PostgresStoreOptions = {}): Promise<PostgresStore> {
    const target = targetOf(url)
    const pool = createPool(url, {
      poolSize: options.poolSize ?? 4,
      connectTimeoutMs: options.connectTimeoutMs ?? 10_000,
    })
    const store = new PostgresStore(pool, target, undefined)
    try {
      const client = await pool.connect()
      let failure: unknown
      try {
        await migrate(client, target)
      } catch (error) {
        failure = error
        throw error
      } finally {
        client.release(failure instanceof Error ? failure : undefined)
      }
      if (options.runId !== undefined) await store.attach(options.runId)
    } catch (error) {
      await store.close()
      throw translate(error, target, 'opening the journal')
    }
    store.outage = new OutageRetry(options.waitForServerMs ?? 0, options.onOutage)
    return store
  }

  /** Every run in the database, newest first. */
  async listRuns(): Promise<RunRecord[]> {
    const rows = await this.read<RunRow>(
      'the list of runs',
      'SELECT * FROM longhaul.runs ORDER BY created_at DESC, run_id',
    )
    return rows.map(toRun)
  }

  async getRun(): Promise<RunRecord | undefined> {
    if (this.runId === undefined) return undefined
    const [row] = await this.read<RunRow>('the run', 'SELECT * FROM longhaul.runs WHERE run_id = $1', [this.runId])
    return row && toRun(row)
  }

  async createRun(run: NewRun): Promise<void> {
    if (this.runId !== undefined) {
      throw new JournalError(
        `this store already acts on run '${this.runId}' in ${this.target.display}; open another store to record run '${run.runId}'.`,
      )
    }
    try {
      await this.write('the new run', async (tx, lostCommit) => {
        // An earlier attempt whose reply was lost may have recorded it: then it is this very run.
        const recorded =
          lostCommit &&
          (
            await tx.query('SELECT 1 FROM longhaul.runs WHERE run_id = $1 AND identity = $2 AND created_at = $3', [
              run.runId,
              run.identity,
              run.createdAt,
            ])
          ).rowCount
        if (recorded) return
        await tx.query(
          `INSERT INTO longhaul.runs (run_id, job, fingerprint, identity, total, kind, state, created_at, updated_at)
           VALUES ($1, $2, $3, $4, $5, $6, 'running', $7, $7)`,
          [run.runId, run.job, run.fingerprint, run.identity, run.total, run.kind, run.createdAt],
        )
      })
    } catch (error) {
      if ((error as { code?: string }).code !== '23505') throw error
      throw new JournalError(
        `run '${run.runId}' already exists in ${this.target.display}: open the store with { runId: '${run.runId}' } to join it.`,
      )
    }
    this.runId = run.runId
  }

  async extendTotal(total: number, now: number): Promise<void> {
    await this.write('the new total', async (tx) => {
      const updated = await tx.query(
        'UPDATE longhaul.runs SET total = $2, updated_at = $3 WHERE run_id = $1 AND total <= $2',
        [this.run, total, now],
      )
      if (updated.rowCount !== 1) throw new RangeError(`the run's total can only grow (asked for ${total})`)
    })
  }

  async setState(state: RunState, now: number, finalDigest?: string): Promise<void> {
    await this.write('the run state', (tx) =>
      tx.query(
        'UPDATE longhaul.runs SET state = $2, final_digest = coalesce($4, final_digest), updated_at = $3 WHERE run_id = $1',
        [this.run, state, now, finalDigest ?? null],
      ),
    )
  }

  async setShardsAt(at: string, now: number): Promise<void> {
    await this.write('where the shards go', async (tx) => {
      // Set once: again (a reply lost, a resume) it changes nothing and logs nothing.
      const set = await tx.query(
        'UPDATE longhaul.runs SET shards_at = $2, updated_at = $3 WHERE run_id = $1 AND shards_at IS DISTINCT FROM $2',
        [this.run, at, now],
      )
      if (set.rowCount === 0) return
      await tx.query("INSERT INTO longhaul.events (run_id, at, type, detail) VALUES ($1, $2, 'shards', $3)", [
        this.run,
        now,
        JSON.stringify({ at }),
      ])
    })
  }

  async getOwner(): Promise<OwnerLease | undefined> {
    const [row] = await this.read<OwnerRow>('the owner lease', 'SELECT * FROM longhaul.owners WHERE run_id = $1', [
      this.run,
    ])
    return row && toOwner(row)
  }

  async acquireOwner(owner: OwnerInfo, ttlMs: number, now: number, replacing?: number) {
    return this.write(
      'the owner lease',
      async (tx, lostCommit): Promise<{ lease: OwnerLease } | { heldBy: OwnerLease }> => {
        // One statement decides: a concurrent taker waits on the row and then sees the lease this one wrote.
        const taken = await tx.query<OwnerRow>(
          `INSERT INTO longhaul.owners AS o (run_id, token, pid, host, since, expires_at)
         VALUES ($1, nextval('longhaul.tokens'), $2, $3, $4, $5)
         ON CONFLICT (run_id) DO UPDATE SET token = excluded.token, pid = excluded.pid, host = excluded.host, since = excluded.since, expires_at = excluded.expires_at
         WHERE o.expires_at <= $4 OR o.token = $6
         RETURNING *`,
          [this.run, owner.pid, owner.host, now, now + ttlMs, replacing ?? null],
        )
        if (taken.rows[0]) return { lease: toOwner(taken.rows[0]) }
        // Refused: the row is now locked by this transaction, so the holder read here is the one that refused.
        const held = toOwner(
          (await tx.query<OwnerRow>('SELECT * FROM longhaul.owners WHERE run_id = $1', [this.run])).rows[0]!,
        )
        // The lease an earlier attempt took, its reply lost: this caller's.
        if (lostCommit && held.pid === owner.pid && held.host === owner.host && held.since === now)
          return { lease: held }
        return { heldBy: held }
      },
    )
  }

  async heartbeat(token: number, worker: string, ttlMs: number, now: number): Promise<void> {
    await this.write('the heartbeat', async (tx) => {
      const renewed = await tx.query('UPDATE longhaul.owners SET expires_at = $3 WHERE run_id = $1 AND token = $2', [
        this.run,
        token,
        now + ttlMs,
      ])
      if (renewed.rowCount !== 1)
        throw new LeaseLostError(`another process took over this run (owner token ${token} is no longer current)`)
      await tx.query(
        'UPDATE longhaul.claims SET expires_at = $3 WHERE run_id = $1 AND worker = $2 AND expires_at > 0',
        [this.run, worker, now + ttlMs],
      )
    })
  }

  async renewClaims(worker: string, ttlMs: number, now: number): Promise<void> {
    await this.write('the renewed claims', (tx) =>
      tx.query('UPDATE longhaul.claims SET expires_at = $3 WHERE run_id = $1 AND worker = $2 AND expires_at > 0', [
        this.run,
        worker,
        now + ttlMs,
      ]),
    )
  }

  async releaseOwner(token: number): Promise<void> {
    await this.write('the owner lease', (tx) =>
      tx.query('DELETE FROM longhaul.owners WHERE run_id = $1 AND token = $2', [this.run, token]),
    )
  }

  async claimRange(worker: string, maxItems: number, ttlMs: number, now: number): Promise<Claim | undefined> {
    const claim = await this.write('a claim', async (tx, lostCommit): Promise<Claim | undefined> => {
      if (lostCommit) {
        // The earlier attempt's claim, recorded but its reply lost, would be renewed under this worker's name and never
        // made. It is the one claim of this worker newer than any this store returned (a worker claims one range at a time).
        const orphan = await tx.query<{ start: number; stop: number; token: number }>(
          'UPDATE longhaul.claims SET expires_at = $4 WHERE run_id = $1 AND worker = $2 AND token > $3 AND expires_at > 0 RETURNING start, stop, token',
          [this.run, worker, this.lastClaimToken, now + ttlMs],
        )
        const row = orphan.rows[0]
        if (row) return { start: row.start, end: row.stop, token: row.token }
      }
      // A released or expired claim first. Rows another worker is taking right now are skipped, not waited for.
      const free = await tx.query<{ start: number; stop: number }>(
        'SELECT start, stop FROM longhaul.claims WHERE run_id = $1 AND expires_at <= $2 ORDER BY start LIMIT 1 FOR UPDATE SKIP LOCKED',
        [this.run, now],
      )
      const taken = free.rows[0]
      if (taken) {
        const stop = Math.min(taken.stop, taken.start + maxItems)
        if (stop < taken.stop) {
          await tx.query(
            `INSERT INTO longhaul.claims (run_id, start, stop, worker, token, expires_at) VALUES ($1, $2, $3, '', nextval('longhaul.tokens'), 0)`,
            [this.run, stop, taken.stop],
          )
        }
        const claimed = await tx.query<{ token: number }>(
          `UPDATE longhaul.claims SET stop = $3, worker = $4, token = nextval('longhaul.tokens'), expires_at = $5
           WHERE run_id = $1 AND start = $2 RETURNING token`,
          [this.run, taken.start, stop, worker, now + ttlMs],
        )
        return { start: taken.start, end: stop, token: claimed.rows[0]!.token }
      }
      // Then new items from the frontier: the run row's lock makes concurrent claimers take turns here.
      const run = await tx.query<{ total: number; frontier: number }>(
        'SELECT total, frontier FROM longhaul.runs WHERE run_id = $1 FOR UPDATE',
        [this.run],
      )
      const { total, frontier } = run.rows[0] ?? { total: 0, frontier: 0 }
      if (frontier >= total) return undefined
      const stop = Math.min(total, frontier + maxItems)
      const claimed = await tx.query<{ token: number }>(
        `INSERT INTO longhaul.claims (run_id, start, stop, worker, token, expires_at) VALUES ($1, $2, $3, $4, nextval('longhaul.tokens'), $5) RETURNING token`,
        [this.run, frontier, stop, worker, now + ttlMs],
      )
      await tx.query('UPDATE longhaul.runs SET frontier = $2 WHERE run_id = $1', [this.run, stop])
      return { start: frontier, end: stop, token: claimed.rows[0]!.token }
    })
    if (claim) this.lastClaimToken = Math.max(this.lastClaimToken, claim.token)
    return claim
  }

  async commitRange(claim: Claim, range: CommittedRange, now: number, ownerToken?: number): Promise<void> {
    const items = `items ${range.start}–${range.end - 1}`
    await this.write(`the commit of ${items}`, async (tx, lostCommit) => {
      if (ownerToken !== undefined) {
        // FOR SHARE: a takeover waits until this commit is in, or this commit sees the takeover.
        const owner = await tx.query('SELECT 1 FROM longhaul.owners WHERE run_id = $1 AND token = $2 FOR SHARE', [
          this.run,
          ownerToken,
        ])
        if (owner.rowCount !== 1) {
          throw new LeaseLostError(
            `another process took over this run (owner token ${ownerToken} is no longer current); ${items} not committed`,
          )
        }
      }
      // Fencing: the claim row must still carry this token. A worker retaking it concurrently holds its lock; once it
      // commits, this re-reads the row and finds the new token.
      const held = await tx.query<{ start: number; stop: number; worker: string }>(
        'SELECT start, stop, worker FROM longhaul.claims WHERE run_id = $1 AND token = $2 FOR UPDATE',
        [this.run, claim.token],
      )
      const row = held.rows[0]
      if (!row || row.start !== range.start || range.end > row.stop || range.end <= range.start) {
        // An earlier attempt whose reply was lost recorded it, and with it moved the claim on: it is committed.
        const recorded =
          lostCommit &&
          (
            await tx.query(
              'SELECT 1 FROM longhaul.ranges WHERE run_id = $1 AND start = $2 AND stop = $3 AND files::text = $4 AND item_hashes = $5',
              [this.run, range.start, range.end, JSON.stringify(range.files), range.itemHashes],
            )
          ).rowCount
        if (recorded) return
        throw new LeaseLostError(`${items} are no longer leased to this worker (claim ${claim.token}); not committed`)
      }
      await tx.query(
        'INSERT INTO longhaul.ranges (run_id, start, stop, files, item_hashes, committed_at) VALUES ($1, $2, $3, $4, $5, $6)',
        [this.run, range.start, range.end, JSON.stringify(range.files), range.itemHashes, now],
      )
      await insertRangeUsage(tx, this.run, range)
      await tx.query(`INSERT INTO longhaul.events (run_id, at, type, detail) VALUES ($1, $2, 'checkpoint', $3)`, [
        this.run,
        now,
        JSON.stringify({ start: range.start, end: range.end, worker: row.worker }),
      ])
      if (range.end === row.stop)
        await tx.query('DELETE FROM longhaul.claims WHERE run_id = $1 AND token = $2', [this.run, claim.token])
      else
        await tx.query('UPDATE longhaul.claims SET start = $3 WHERE run_id = $1 AND token = $2', [
          this.run,
          claim.token,
          range.end,
        ])
    })
  }

  async releaseClaim(claim: Claim): Promise<void> {
    // A new token: whoever held the claim can no longer commit it.
    await this.write('a released claim', (tx) =>
      tx.query(
        `UPDATE longhaul.claims SET expires_at = 0, worker = '', token = nextval('longhaul.tokens') WHERE run_id = $1 AND token = $2`,
        [this.run, claim.token],
      ),
    )
  }

  async releaseClaimsOf(worker: string): Promise<void> {
    await this.write('released claims', (tx) =>
      tx.query(
        `UPDATE longhaul.claims SET expires_at = 0, worker = '', token = nextval('longhaul.tokens') WHERE run_id = $1 AND worker = $2`,
        [this.run, worker],
      ),
    )
  }

  async uncommitRange(start: number): Promise<void> {
    await this.write('a forgotten range', async (tx) => {
      const gone = await tx.query<{ start: number; stop: number }>(
        'DELETE FROM longhaul.ranges WHERE run_id = $1 AND start = $2 RETURNING start, stop',
        [this.run, start],
      )
      const row = gone.rows[0]
      if (!row) return
      await tx.query(
        `INSERT INTO longhaul.claims (run_id, start, stop, worker, token, expires_at) VALUES ($1, $2, $3, '', nextval('longhaul.tokens'), 0)`,
        [this.run, row.start, row.stop],
      )
    })
  }

  async claimHolders(now: number): Promise<string[]> {
    const rows = await this.read<{ worker: string }>(
      'the claim holders',
      'SELECT DISTINCT worker FROM longhaul.claims WHERE run_id = $1 AND expires_at > $2',
      [this.run, now],
    )
    // Sorted here, not by the server's collation: the same order as the SQLite store's.
    return rows.map((row) => row.worker).sort()
  }

  async committedItems(): Promise<number> {
    const [row] = await this.read<{ n: number }>(
      'the committed count',
      'SELECT COALESCE(SUM(stop - start), 0)::bigint AS n FROM longhaul.ranges WHERE run_id = $1',
      [this.run],
    )
    return row!.n
  }

  async usageTotals(): Promise<UsageTotals> {
    return totalsOfRows(await this.read<UsageSumRow>('the usage of the committed ranges', USAGE_SUMS, [this.run]))
  }

  async *ranges(): AsyncIterable<RangeSummary> {
    for (let after = -1; ; ) {
      const rows = await this.read<Pick<RangeRow, 'start' | 'stop' | 'files'>>(
        'the committed ranges',
        'SELECT start, stop, files FROM longhaul.ranges WHERE run_id = $1 AND start > $2 ORDER BY start LIMIT $3',
        [this.run, after, SUMMARY_PAGE],
      )
      for (const row of rows) yield { start: row.start, end: row.stop, files: row.files }
      if (rows.length < SUMMARY_PAGE) return
      after = rows.at(-1)!.start
    }
  }

  async *rangesWithHashes(): AsyncIterable<CommittedRange> {
    for (let after = -1; ; ) {
      const rows = await this.read<RangeRow>(
        'the committed ranges',
        `WITH first AS (SELECT min(start) AS s FROM longhaul.ranges WHERE run_id = $1 AND start > $2)
         SELECT r.* FROM longhaul.ranges r, first WHERE r.run_id = $1 AND r.start >= first.s AND r.start < first.s + $3 ORDER BY r.start`,
        [this.run, after, HASH_WINDOW],
      )
      if (rows.length === 0) return
      for (const row of rows) yield { start: row.start, end: row.stop, files: row.files, itemHashes: row.item_hashes }
      after = rows.at(-1)!.start
    }
  }

  async addEvent(...[type, detail, now]: Parameters<Store['addEvent']>): Promise<void> {
    await this.write(`the ${type} event`, (tx) =>
      tx.query('INSERT INTO longhaul.events (run_id, at, type, detail) VALUES ($1, $2, $3, $4)', [
        this.run,
        now,
        type,
        JSON.stringify(detail),
      ]),
    )
  }

  async events(): Promise<RunEvent[]> {
    const rows = await this.read<RunEvent>(
      'the event log',
      'SELECT at, type, detail FROM longhaul.events WHERE run_id = $1 ORDER BY id',
      [this.run],
    )
    return rows.map((row) => ({ at: row.at, type: row.type, detail: row.detail }))
  }

  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    await this.pool.end()
  }

  /** The run this store acts on. */
  private get run(): string {
    if (this.runId === undefined) {
      throw new JournalError(
        `this store acts on no run yet in ${this.target.display}: record one with createRun, or open the store with { runId }.`,
      )
    }
    return this.runId
  }

  private async attach(runId: string): Promise<void> {
    this.runId = runId
    if (!(await this.getRun())) throw noSuchRun(runId, this.target.display, await this.listRuns())
  }

  private async read<R extends object>(what: string, sql: string, params: unknown[] = []): Promise<R[]> {
    return this.outage.call(async () => {
      try {
        return (await this.pool.query<R>(sql, params)).rows
      } catch (error) {
        throw translate(error, this.target, `reading ${what}`)
      }
    })
  }

  /**
   * Runs `fn` in one transaction, durable when it returns. A deadlock is
   * retried, and so is a server that stopped answering, while the store's
   * patience lasts (`waitForServerMs`); anything else is thrown as longhaul's
   * error. A connection lost during COMMIT leaves it unknown whether the
   * transaction was recorded: every later attempt gets `lostCommit`, so that a
   * call that may not be made twice (a claim, a commit) first looks for what
   * the lost one recorded. The others may run twice: they set what they set
   * (a lease's expiry, a state), or, for an event, log it twice at worst.
   */
  private async write<T>(what: string, fn: (tx: pg.PoolClient, lostCommit: boolean) => Promise<T>): Promise<T> {
    let lostCommit = false
    return this.outage.call(async () => {
      for (let attempt = 1; ; attempt++) {
        let client: pg.PoolClient
        try {
          client = await this.pool.connect()
        } catch (error) {
          throw translate(error, this.target, what)
        }
        let broken: Error | undefined
        let committing = false
        try {
          await client.query('BEGIN; SET LOCAL synchronous_commit TO on')
          const result = await fn(client, lostCommit)
          committing = true
          await client.query('COMMIT')
          return result
        } catch (error) {
          // Keep the first error; a connection that cannot even roll back is dropped from the pool.
          await client.query('ROLLBACK').catch((rollback: Error) => {
            broken = rollback
          })
          if (RETRYABLE.has(String((error as { code?: unknown }).code)) && attempt < ATTEMPTS) continue
          const translated = translate(error, this.target, what)
          if (committing && translated instanceof StoreUnavailableError) lostCommit = true
          throw translated
        } finally {
          client.release(broken)
        }
      }
    })
  }
}
