import { existsSync } from 'node:fs'
import Database from 'better-sqlite3'
import { JournalError, LeaseLostError, LonghaulError, NotDurableError, RunDamagedError } from '../../errors.ts'
import { type OwnerRow, type RunRow as SharedRunRow, toOwner, toRun } from '../rows.ts'
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
  ShardFileRecord,
  Store,
} from '../store.ts'
import { NO_USAGE_TOTALS, totalsOfRows, type UsageSumRow, type UsageTotals, usageJson } from '../usage.ts'
import { assertSchema, BUSY_TIMEOUT_MS, createJournal, PAGE_CACHE_PRAGMA } from './journalFile.ts'
import { journalFailure, journalFileDamage, runDirOf } from './journalHealth.ts'
import { migrate, RUN_COLUMNS_VERSION, runColumnsFromHistory, schemaVersion, USAGE_VERSION } from './migrate.ts'

interface RunRow extends SharedRunRow {
  frontier: number
  next_token: number
}
interface ClaimRow {
  start: number
  end: number
  worker: string
  token: number
  expires_at: number
}
interface RangeRow {
  start: number
  end: number
  files: string
  item_hashes: Buffer
  committed_at: number
}

/**
 * The default journal: one SQLite file in WAL mode with synchronous=FULL, so a
 * transaction that returned is on disk. Every write is one transaction.
 */
export class SqliteStore implements Store {
  private readonly db: Database.Database

  private constructor(
    db: Database.Database,
    private readonly path: string,
    /** A journal of an older schema, read without migrating it: the run's newer columns are told from its history. */
    private readonly unmigrated: boolean,
  ) {
    this.db = db
  }

  /**
   * Opens (creating if needed) the journal at `path`. A journal that exists
   * and cannot be trusted (empty, garbled, its write-ahead log lost, no run's
   * tables in it) throws RunDamagedError; a disk that fails, JournalDiskError.
   */
  static open(path: string, options: { readonly?: boolean } = {}): SqliteStore {
    const readonly = options.readonly ?? false
    let db: Database.Database | undefined
    let unmigrated = false
    try {
      const damage = journalFileDamage(path)
      if (damage) throw new RunDamagedError(runDirOf(path), damage)
      if (!readonly && !existsSync(path)) createJournal(path)
      db = new Database(path, { readonly, fileMustExist: true, timeout: BUSY_TIMEOUT_MS })
      db.pragma(PAGE_CACHE_PRAGMA)
      if (!readonly) {
        db.pragma('journal_mode = WAL')
        db.pragma('synchronous = FULL')
        migrate(db, path)
      }
      assertSchema(db, path)
      unmigrated = schemaVersion(db) < RUN_COLUMNS_VERSION
    } catch (error) {
      db?.close()
      if (error instanceof LonghaulError) throw error
      const typed = journalFailure(error, path, 'opening it')
      if (typed instanceof LonghaulError) throw typed
      throw new JournalError(`cannot open journal ${path}: ${(error as Error).message}`)
    }
    return new SqliteStore(db, path, unmigrated)
  }

  /** Runs a read, its SQLite failures (a damaged file, a failing disk) turned into typed errors. */
  private read<T>(what: string, fn: () => T): T {
    try {
      return fn()
    } catch (error) {
      throw journalFailure(error, this.path, `reading ${what}`)
    }
  }

  private write<T>(what: string, fn: () => T): T {
    try {
      return this.db.transaction(fn).immediate()
    } catch (error) {
      const code = (error as { code?: string }).code ?? ''
      if (/^SQLITE_(IOERR|FULL|CANTOPEN|READONLY)/.test(code))
        throw new NotDurableError(`${what} in ${this.path}`, error)
      throw journalFailure(error, this.path, `recording ${what}`)
    }
  }

  async getRun(): Promise<RunRecord | undefined> {
    return this.read('the run', () => {
      const row = this.db.prepare<[], RunRow>('SELECT * FROM run WHERE id = 1').get()
      if (row && this.unmigrated) return { ...toRun(row), ...runColumnsFromHistory(this.db) }
      return row && toRun(row)
    })
  }

  async createRun(run: NewRun): Promise<void> {
    this.write('the new run', () => {
      this.db
        .prepare(
          // Two processes starting at once on a new folder: the first records its run, the other finds it (getRun) and is refused by the owner lease.
          `INSERT INTO run (id, run_id, job, fingerprint, identity, total, kind, state, created_at, updated_at)
           VALUES (1, ?, ?, ?, ?, ?, ?, 'running', ?, ?) ON CONFLICT (id) DO NOTHING`,
        )
        .run(run.runId, run.job, run.fingerprint, run.identity, run.total, run.kind, run.createdAt, run.createdAt)
    })
  }

  async extendTotal(total: number, now: number): Promise<void> {
    this.write('the new total', () => {
      const info = this.db
        .prepare('UPDATE run SET total = ?, updated_at = ? WHERE id = 1 AND total <= ?')
        .run(total, now, total)
      if (info.changes !== 1) throw new RangeError(`the run's total can only grow (asked for ${total})`)
    })
  }

  async setState(state: RunState, now: number, finalDigest?: string): Promise<void> {
    this.write('the run state', () => {
      this.db
        .prepare('UPDATE run SET state = ?, final_digest = coalesce(?, final_digest), updated_at = ? WHERE id = 1')
        .run(state, finalDigest ?? null, now)
    })
  }

  async setShardsAt(at: string, now: number): Promise<void> {
    this.write('where the shards go', () => {
      // Set once: again (a resume) it changes nothing and logs nothing.
      const set = this.db
        .prepare('UPDATE run SET shards_at = ?, updated_at = ? WHERE id = 1 AND shards_at IS NOT ?')
        .run(at, now, at)
      if (set.changes === 0) return
      this.db.prepare("INSERT INTO events (at, type, detail) VALUES (?, 'shards', ?)").run(now, JSON.stringify({ at }))
    })
  }

  /**
   * Every item below the frontier has been handed out (claimed) at least
   * once; 0 when no run is recorded. Only a SQLite journal is asked: its
   * shards prove what it must hold (see run/runDamage.ts).
   */
  async frontier(): Promise<number> {
    return this.read(
      'the run',
      () => this.db.prepare<[], { frontier: number }>('SELECT frontier FROM run WHERE id = 1').get()?.frontier ?? 0,
    )
  }

  async getOwner(): Promise<OwnerLease | undefined> {
    const row = this.read('the owner lease', () =>
      this.db.prepare<[], OwnerRow>('SELECT * FROM owner WHERE id = 1').get(),
    )
    return row && toOwner(row)
  }

  async acquireOwner(owner: OwnerInfo, ttlMs: number, now: number, replacing?: number) {
    return this.write('the owner lease', () => {
      const current = this.db.prepare<[], OwnerRow>('SELECT * FROM owner WHERE id = 1').get()
      if (current && current.expires_at > now && current.token !== replacing) return { heldBy: toOwner(current) }
      const token = this.nextToken()
      this.db
        .prepare('INSERT OR REPLACE INTO owner (id, token, pid, host, since, expires_at) VALUES (1, ?, ?, ?, ?, ?)')
        .run(token, owner.pid, owner.host, now, now + ttlMs)
      return { lease: { token, pid: owner.pid, host: owner.host, since: now, expiresAt: now + ttlMs } }
    })
  }

  async heartbeat(token: number, worker: string, ttlMs: number, now: number): Promise<void> {
    this.write('the heartbeat', () => {
      const renewed = this.db
        .prepare('UPDATE owner SET expires_at = ? WHERE id = 1 AND token = ?')
        .run(now + ttlMs, token)
      if (renewed.changes !== 1)
        throw new LeaseLostError(`another process took over this run (owner token ${token} is no longer current)`)
      this.db.prepare('UPDATE claims SET expires_at = ? WHERE worker = ? AND expires_at > 0').run(now + ttlMs, worker)
    })
  }

  async renewClaims(worker: string, ttlMs: number, now: number): Promise<void> {
    this.write('the renewed claims', () => {
      this.db.prepare('UPDATE claims SET expires_at = ? WHERE worker = ? AND expires_at > 0').run(now + ttlMs, worker)
    })
  }

  async releaseOwner(token: number): Promise<void> {
    this.write('the owner lease', () => {
      this.db.prepare('DELETE FROM owner WHERE id = 1 AND token = ?').run(token)
    })
  }

  async claimRange(worker: string, maxItems: number, ttlMs: number, now: number): Promise<Claim | undefined> {
    return this.write('a claim', () => {
      const token = this.nextToken()
      const free = this.db
        .prepare<[number], ClaimRow>('SELECT * FROM claims WHERE expires_at <= ? ORDER BY start LIMIT 1')
        .get(now)
      if (free) {
        const end = Math.min(free.end, free.start + maxItems)
        if (end < free.end) {
          this.db
            .prepare('INSERT INTO claims (start, end, worker, token, expires_at) VALUES (?, ?, ?, ?, 0)')
            .run(end, free.end, '', this.nextToken())
        }
        this.db
          .prepare('UPDATE claims SET end = ?, worker = ?, token = ?, expires_at = ? WHERE start = ?')
          .run(end, worker, token, now + ttlMs, free.start)
        return { start: free.start, end, token }
      }
      const run = this.db
        .prepare<[], Pick<RunRow, 'total' | 'frontier'>>('SELECT total, frontier FROM run WHERE id = 1')
        .get()
      if (!run || run.frontier >= run.total) return undefined
      const end = Math.min(run.total, run.frontier + maxItems)
      this.db
        .prepare('INSERT INTO claims (start, end, worker, token, expires_at) VALUES (?, ?, ?, ?, ?)')
        .run(run.frontier, end, worker, token, now + ttlMs)
      this.db.prepare('UPDATE run SET frontier = ? WHERE id = 1').run(end)
      return { start: run.frontier, end, token }
    })
  }

  async commitRange(claim: Claim, range: CommittedRange, now: number, ownerToken?: number): Promise<void> {
    this.write(`the commit of items ${range.start}–${range.end - 1}`, () => {
      if (
        ownerToken !== undefined &&
        !this.db.prepare('SELECT 1 FROM owner WHERE id = 1 AND token = ?').get(ownerToken)
      ) {
        throw new LeaseLostError(
          `another process took over this run (owner token ${ownerToken} is no longer current); items ${range.start}–${range.end - 1} not committed`,
        )
      }
      const held = this.db.prepare<[number], ClaimRow>('SELECT * FROM claims WHERE token = ?').get(claim.token)
      if (!held || held.start !== range.start || range.end > held.end || range.end <= range.start) {
        throw new LeaseLostError(
          `items ${range.start}–${range.end - 1} are no longer leased to this worker (claim ${claim.token}); not committed`,
        )
      }
      this.db
        .prepare('INSERT INTO ranges (start, end, files, item_hashes, committed_at) VALUES (?, ?, ?, ?, ?)')
        .run(range.start, range.end, JSON.stringify(range.files), range.itemHashes, now)
      if (range.usage || range.failedUsage)
        this.db
          .prepare('INSERT INTO range_usage (start, usage, failed_usage) VALUES (?, ?, ?)')
          .run(range.start, usageJson(range.usage), usageJson(range.failedUsage))
      // The event log's checkpoint entry is part of the same transaction: no extra sync.
      this.db
        .prepare("INSERT INTO events (at, type, detail) VALUES (?, 'checkpoint', ?)")
        .run(now, JSON.stringify({ start: range.start, end: range.end, worker: held.worker }))
      if (range.end === held.end) this.db.prepare('DELETE FROM claims WHERE token = ?').run(claim.token)
      else this.db.prepare('UPDATE claims SET start = ? WHERE token = ?').run(range.end, claim.token)
    })
  }

  async releaseClaim(claim: Claim): Promise<void> {
    this.write('a released claim', () => {
      this.db
        .prepare("UPDATE claims SET expires_at = 0, worker = '', token = ? WHERE token = ?")
        .run(this.nextToken(), claim.token)
    })
  }

  async releaseClaimsOf(worker: string): Promise<void> {
    this.write('released claims', () => {
      // New tokens: whoever held these can no longer commit them.
      const starts = this.db
        .prepare<[string], { start: number }>('SELECT start FROM claims WHERE worker = ?')
        .all(worker)
      const release = this.db.prepare("UPDATE claims SET expires_at = 0, worker = '', token = ? WHERE start = ?")
      for (const { start } of starts) release.run(this.nextToken(), start)
    })
  }

  async uncommitRange(start: number): Promise<void> {
    this.write('a forgotten range', () => {
      const row = this.db.prepare<[number], RangeRow>('SELECT start, end FROM ranges WHERE start = ?').get(start)
      if (!row) return
      this.db.prepare('DELETE FROM range_usage WHERE start = ?').run(start)
      this.db.prepare('DELETE FROM ranges WHERE start = ?').run(start)
      this.db
        .prepare("INSERT INTO claims (start, end, worker, token, expires_at) VALUES (?, ?, '', ?, 0)")
        .run(row.start, row.end, this.nextToken())
    })
  }

  async claimHolders(now: number): Promise<string[]> {
    return this.read('the claims', () =>
      this.db.prepare<[number], { worker: string }>('SELECT DISTINCT worker FROM claims WHERE expires_at > ?').all(now),
    )
      .map((row) => row.worker)
      .sort()
  }

  async committedItems(): Promise<number> {
    return this.read(
      'the committed ranges',
      () => this.db.prepare<[], { n: number }>('SELECT COALESCE(SUM(end - start), 0) AS n FROM ranges').get()!.n,
    )
  }

  async usageTotals(): Promise<UsageTotals> {
    // A journal read without migrating it (status of a run made by an older longhaul) has no usage recorded.
    if (schemaVersion(this.db) < USAGE_VERSION) return NO_USAGE_TOTALS
    const sums = (kind: string, column: string): string =>
      `SELECT '${kind}' AS kind, u.key AS unit, SUM(u.value) AS amount FROM range_usage, json_each(range_usage.${column}) AS u GROUP BY u.key`
    return totalsOfRows(
      this.read('the usage of the committed ranges', () =>
        this.db.prepare<[], UsageSumRow>(`${sums('usage', 'usage')} UNION ALL ${sums('failed', 'failed_usage')}`).all(),
      ),
    )
  }

  async *ranges(): AsyncIterable<RangeSummary> {
    // Only the columns before item_hashes: a column after it is reached by walking the blob's overflow pages, 32
    // bytes an item (32 MB at 1,000,000 items), which made opening a large run scale with the items committed.
    const rows = this.read('the committed ranges', () =>
      this.db
        .prepare<[], Pick<RangeRow, 'start' | 'end' | 'files'>>('SELECT start, end, files FROM ranges ORDER BY start')
        .all(),
    )
    for (const row of rows) yield { start: row.start, end: row.end, files: JSON.parse(row.files) as ShardFileRecord[] }
  }

  async *rangesWithHashes(): AsyncIterable<CommittedRange> {
    // A window of item indices at a time, so memory stays bounded however many items there are.
    const WINDOW = 65_536
    let after = -1
    for (;;) {
      const first = this.read(
        'the committed ranges',
        () =>
          this.db
            .prepare<[number], { s: number | null }>('SELECT MIN(start) AS s FROM ranges WHERE start > ?')
            .get(after)!.s,
      )
      if (first === null) return
      const rows = this.read('the committed ranges', () =>
        this.db
          .prepare<[number, number], RangeRow>('SELECT * FROM ranges WHERE start >= ? AND start < ? ORDER BY start')
          .all(first, first + WINDOW),
      )
      for (const row of rows)
        yield {
          start: row.start,
          end: row.end,
          files: JSON.parse(row.files) as ShardFileRecord[],
          itemHashes: row.item_hashes,
        }
      after = rows.at(-1)!.start
    }
  }

  async addEvent(...[type, detail, now]: Parameters<Store['addEvent']>): Promise<void> {
    this.write(`the ${type} event`, () => {
      this.db.prepare('INSERT INTO events (at, type, detail) VALUES (?, ?, ?)').run(now, type, JSON.stringify(detail))
    })
  }

  async events(): Promise<RunEvent[]> {
    return this.read('the event log', () =>
      this.db
        .prepare<[], { at: number; type: string; detail: string }>('SELECT at, type, detail FROM events ORDER BY id')
        .all(),
    ).map((row) => ({ at: row.at, type: row.type, detail: JSON.parse(row.detail) as Record<string, unknown> }))
  }

  async close(): Promise<void> {
    this.db.close()
  }

  private nextToken(): number {
    const row = this.db
      .prepare<[], { next_token: number }>(
        'UPDATE run SET next_token = next_token + 1 WHERE id = 1 RETURNING next_token',
      )
      .get()
    if (!row) throw new JournalError(`journal ${this.path} holds no run`)
    return row.next_token
  }
}
