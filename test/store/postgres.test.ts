/**
 * The PostgreSQL store against a real server started for this file: the one
 * conformance suite and the model test every store runs, then what only a
 * shared, networked journal has to prove: many machines claiming at once,
 * fencing across machines, concurrent migrations, and clear errors.
 */
import { connect, createServer, type Socket } from 'node:net'
import pg from 'pg'
import { describe, expect, it } from 'vitest'
import { JournalError, LeaseLostError, StoreRefusedError, StoreUnavailableError, UsageError } from '../../src/errors.ts'
import { createPool } from '../../src/journal/postgres/connect.ts'
import { PostgresStore } from '../../src/journal/postgres/postgresStore.ts'
import type { Claim, Store } from '../../src/journal/store.ts'
import { freePort, usePostgres } from '../support/postgres.ts'
import { storeConformance } from './conformance.ts'
import { storeModel } from './model.ts'

const server = usePostgres()
const TTL = 30_000
const run = (runId: string, total: number) => ({
  runId,
  job: 'j',
  fingerprint: 'f',
  identity: '{}',
  total,
  kind: 'map' as const,
  createdAt: 0,
})

async function commitAll(store: Store, claim: Claim, now = 0, ownerToken?: number): Promise<void> {
  const n = claim.end - claim.start
  await store.commitRange(
    claim,
    { start: claim.start, end: claim.end, files: [], itemHashes: Buffer.alloc(n * 32, 1) },
    now,
    ownerToken,
  )
}

/** Runs SQL on a database directly, as an operator (or a test backdating a lease) would. */
async function sql(url: string, text: string, params: unknown[] = []): Promise<pg.QueryResult> {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  try {
    return await client.query(text, params)
  } finally {
    await client.end()
  }
}

// A fresh database per store: each conformance test starts from an empty journal.
storeConformance('postgres', async () => PostgresStore.open(await server().createDatabase()))

// One database for every sequence: each records its own run, so this also proves runs in one database stay apart.
let shared: Promise<string> | undefined
storeModel('postgres, many runs in one database', async () =>
  PostgresStore.open(await (shared ??= server().createDatabase()), { poolSize: 2 }),
)

describe('postgres store: many machines on one journal', () => {
  it('no-duplicates: 16 workers on two machines claiming at once never get overlapping ranges (FOR UPDATE SKIP LOCKED)', async () => {
    const url = await server().createDatabase()
    const a = await PostgresStore.open(url, { poolSize: 8 })
    await a.createRun(run('shared', 3_000))
    const b = await PostgresStore.open(url, { runId: 'shared', poolSize: 8 })
    // Items 0 … 2999 come back as 300 released claims (taken first, and split); 3000 … 5999 are new, from the frontier.
    for (let claim = await a.claimRange('seed', 10, TTL, 0); claim; claim = await a.claimRange('seed', 10, TTL, 0));
    await a.releaseClaimsOf('seed')
    await a.extendTotal(6_000, 0)

    const claims: Claim[] = []
    const worker = async (store: Store, name: string, salt: number): Promise<void> => {
      for (let i = salt; ; i++) {
        const claim = await store.claimRange(name, 1 + ((i * 7) % 15), TTL, 0)
        if (!claim) return
        claims.push(claim)
        await commitAll(store, claim)
      }
    }
    await Promise.all(Array.from({ length: 16 }, (_, k) => worker(k % 2 ? b : a, `w${k}`, k)))
    // A claimer that found only rows others were taking gave up early; whatever they split off is still free.
    for (
      let claim = await a.claimRange('drain', 100, TTL, 0);
      claim;
      claim = await a.claimRange('drain', 100, TTL, 0)
    ) {
      claims.push(claim)
      await commitAll(a, claim)
    }

    claims.sort((x, y) => x.start - y.start)
    let next = 0
    for (const claim of claims) {
      expect(claim.start).toBe(next)
      next = claim.end
    }
    expect(next).toBe(6_000)
    expect(new Set(claims.map((c) => c.token)).size).toBe(claims.length)
    expect(await b.committedItems()).toBe(6_000)
    await Promise.all([a.close(), b.close()])
  })

  it("one-owner: a backdated claim is retaken by another machine, and the old token's commit throws LeaseLostError (fencing)", async () => {
    const url = await server().createDatabase()
    const a = await PostgresStore.open(url)
    await a.createRun(run('r', 10))
    const b = await PostgresStore.open(url, { runId: 'r' })
    const old = (await a.claimRange('machine-a', 10, TTL, 1_000))!
    // Machine a stalls: its lease is backdated so that it has expired at now = 1000.
    await sql(url, 'UPDATE longhaul.claims SET expires_at = 999 WHERE token = $1', [old.token])
    const taken = (await b.claimRange('machine-b', 10, TTL, 1_000))!
    expect([taken.start, taken.end]).toEqual([old.start, old.end])
    // Machine a wakes up: its commit, whole or partial, is refused.
    await expect(commitAll(a, old, 1_001)).rejects.toBeInstanceOf(LeaseLostError)
    await expect(commitAll(a, { ...old, end: 5 }, 1_001)).rejects.toThrow(/no longer leased/)
    await commitAll(b, taken, 1_002)
    expect(await a.committedItems()).toBe(10)
    expect((await b.events()).filter((e) => e.type === 'checkpoint')).toHaveLength(1)
    await Promise.all([a.close(), b.close()])
  })

  it('one-owner: machines racing for the owner lease get exactly one lease; a backdated owner cannot commit', async () => {
    const url = await server().createDatabase()
    const first = await PostgresStore.open(url)
    await first.createRun(run('r', 10))
    const stores = [
      first,
      ...(await Promise.all(Array.from({ length: 7 }, () => PostgresStore.open(url, { runId: 'r', poolSize: 1 })))),
    ]
    const answers = await Promise.all(stores.map((store, pid) => store.acquireOwner({ pid, host: `m${pid}` }, TTL, 0)))
    const winners = answers.filter((answer) => 'lease' in answer)
    expect(winners).toHaveLength(1)
    const lease = 'lease' in winners[0]! ? winners[0].lease : undefined
    for (const answer of answers) if ('heldBy' in answer) expect(answer.heldBy.token).toBe(lease!.token)

    const owner = stores[lease!.pid]!
    const claim = (await owner.claimRange('local', 10, TTL, 0))!
    await sql(url, 'UPDATE longhaul.owners SET expires_at = 5')
    const next = stores[(lease!.pid + 1) % stores.length]!
    expect('lease' in (await next.acquireOwner({ pid: 99, host: 'new' }, TTL, 10))).toBe(true)
    await expect(commitAll(owner, claim, 11, lease!.token)).rejects.toThrow(/took over/)
    await expect(owner.heartbeat(lease!.token, 'local', TTL, 12)).rejects.toBeInstanceOf(LeaseLostError)
    expect(await owner.committedItems()).toBe(0)
    await Promise.all(stores.map((store) => store.close()))
  })

  it('migrations applied concurrently and then again are idempotent', async () => {
    const url = await server().createDatabase()
    const stores = await Promise.all(Array.from({ length: 6 }, () => PostgresStore.open(url, { poolSize: 1 })))
    await Promise.all(stores.map((store) => store.close()))
    await (await PostgresStore.open(url)).close()
    const versions = await sql(url, 'SELECT version, name FROM longhaul.schema_version ORDER BY version')
    expect(versions.rows).toEqual([
      { version: 1, name: 'init' },
      { version: 2, name: 'run-columns' },
      { version: 3, name: 'range-usage' },
    ])
  })

  it("run-state-columns: runs recorded at schema version 1 get their kind, where their shards go and a loop's digest from their history", async () => {
    const url = await server().createDatabase()
    const identity = (output: unknown, more = {}) => JSON.stringify({ job: 'j', sources: {}, output, ...more })
    const digest = 'd'.repeat(64)
    const made = async (runId: string, id: string, then: (store: Store) => Promise<void>): Promise<void> => {
      const store = await PostgresStore.open(url, { poolSize: 1 })
      await store.createRun({ ...run(runId, 3), identity: id })
      await then(store)
      await store.close()
    }
    // As the previous version recorded them: the kind in the identity, the bucket and the digest in events.
    await made('bucket', identity({ kind: 'jsonl' }), (s) => s.addEvent('shards', { at: 's3://b/p' }, 1))
    await made('folder', identity({ kind: 'jsonl' }), (s) => s.addEvent('complete', { committed: 3, digest }, 2))
    await made('loop', identity({ kind: 'loop' }), async (s) => {
      await s.setState('complete', 3)
      await s.addEvent('complete', { committed: 3, digest, file: 'final.bin', bytes: 8 }, 3)
    })
    await made('exec', JSON.stringify({ kind: 'exec', job: 'train', command: 'python3', args: [] }), async () => {})
    await sql(
      url,
      `ALTER TABLE longhaul.runs DROP COLUMN kind, DROP COLUMN shards_at, DROP COLUMN final_digest;
       DROP TABLE longhaul.range_usage;
       DELETE FROM longhaul.schema_version WHERE version >= 2`,
    )

    const store = await PostgresStore.open(url)
    const runs = Object.fromEntries(
      (await store.listRuns()).map((r) => [
        r.runId,
        { kind: r.kind, shardsAt: r.shardsAt, finalDigest: r.finalDigest },
      ]),
    )
    expect(runs).toEqual({
      bucket: { kind: 'map', shardsAt: 's3://b/p', finalDigest: null },
      folder: { kind: 'map', shardsAt: null, finalDigest: null },
      loop: { kind: 'loop', shardsAt: null, finalDigest: digest },
      exec: { kind: 'exec', shardsAt: null, finalDigest: null },
    })
    await store.close()
    const versions = await sql(url, 'SELECT max(version) AS version FROM longhaul.schema_version')
    expect(versions.rows).toEqual([{ version: 3 }])
  })
})

describe('postgres store: clear errors', () => {
  it('an unreachable server names host:port and what to check', async () => {
    const port = await freePort()
    const error = await PostgresStore.open(`postgres://postgres@127.0.0.1:${port}/db`).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(StoreUnavailableError)
    expect((error as Error).message).toMatch(
      new RegExp(`cannot reach PostgreSQL at 127\\.0\\.0\\.1:${port} .*ECONNREFUSED.*Check that the server is running`),
    )
  })

  it('a server that never answers times out with the same advice', async () => {
    const sockets: Socket[] = []
    const silent = createServer((socket) => sockets.push(socket))
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve))
    const port = (silent.address() as { port: number }).port
    try {
      const error = await PostgresStore.open(`postgres://postgres@127.0.0.1:${port}/db`, {
        connectTimeoutMs: 200,
      }).catch((e: unknown) => e)
      expect(error).toBeInstanceOf(StoreUnavailableError)
      expect((error as Error).message).toMatch(
        new RegExp(`127\\.0\\.0\\.1:${port} .*timeout.*Check that the server is running`),
      )
    } finally {
      for (const socket of sockets) socket.destroy()
      await new Promise((resolve) => silent.close(resolve))
    }
  })

  it('a refused user and a missing database say what to fix', async () => {
    const user = await PostgresStore.open(server().url.replace('postgres@', 'nobody@')).catch((e: unknown) => e)
    expect(user).toBeInstanceOf(StoreRefusedError)
    expect((user as Error).message).toMatch(/refused user 'nobody' for database 'postgres'.*pg_hba\.conf/)
    const database = await PostgresStore.open(server().urlFor('no_such_db')).catch((e: unknown) => e)
    expect(database).toBeInstanceOf(StoreRefusedError)
    expect((database as Error).message).toMatch(
      /database 'no_such_db' does not exist on PostgreSQL at 127\.0\.0\.1:\d+\. Create it/,
    )
  })

  it('a URL that is not a PostgreSQL URL is a usage error that never shows the password', async () => {
    await expect(PostgresStore.open('mysql://u:secret@h/db')).rejects.toThrow(
      /^not a PostgreSQL URL: 'mysql:\/\/u:\*\*\*@h\/db'. Give postgres:\/\//,
    )
    const error = await PostgresStore.open('postgres://u:secret@h:port/db').catch((e: unknown) => e)
    expect(error).toBeInstanceOf(UsageError)
    expect((error as Error).message).toMatch(/^cannot read the PostgreSQL URL 'postgres:\/\/u:\*\*\*@h:port\/db'/)
    // A password holding '/' or '@' is hidden whole.
    const slashed = await PostgresStore.open('postgres://u:pa/s@s@h:port/db').catch((e: unknown) => e)
    expect((slashed as Error).message).toMatch(/^cannot read the PostgreSQL URL 'postgres:\/\/u:\*\*\*@h:port\/db'/)
    expect((slashed as Error).message).not.toMatch(/pa\/s|s@s/)
  })

  it('a run id that does not exist lists the runs there', async () => {
    const url = await server().createDatabase()
    const empty = await PostgresStore.open(url, { runId: 'gamma' }).catch((e: unknown) => e)
    expect(empty).toBeInstanceOf(JournalError)
    expect((empty as Error).message).toMatch(
      /^no run 'gamma' in postgres:\/\/postgres@127\.0\.0\.1:\d+\/test_\d+; runs there: none/,
    )
    for (const id of ['alpha', 'beta']) {
      const store = await PostgresStore.open(url)
      await store.createRun({ ...run(id, 5), createdAt: id === 'alpha' ? 1 : 2 })
      await expect(store.createRun(run('other', 5))).rejects.toThrow(/already acts on run/)
      await store.close()
    }
    await expect(PostgresStore.open(url, { runId: 'gamma' })).rejects.toThrow(
      /no run 'gamma' in .*; runs there: beta \(job j, running, created .*\), alpha \(/,
    )
    const again = await PostgresStore.open(url)
    await expect(again.createRun(run('alpha', 5))).rejects.toThrow(/run 'alpha' already exists in .*runId: 'alpha'/)
    await expect(again.claimRange('w', 1, TTL, 0)).rejects.toThrow(/acts on no run yet/)
    await again.close()
  })

  it('a schema newer than this longhaul is refused: upgrade longhaul', async () => {
    const url = await server().createDatabase()
    await (await PostgresStore.open(url)).close()
    await sql(url, "INSERT INTO longhaul.schema_version (version, name) VALUES (99, 'from-the-future')")
    const error = await PostgresStore.open(url).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(JournalError)
    expect((error as Error).message).toMatch(
      /test_\d+ has longhaul schema version 99, and this longhaul knows up to 3: upgrade longhaul/,
    )
  })

  it('a connection killed mid-transaction fails that call with StoreUnavailableError, records nothing, and the next call works', async () => {
    const url = await server().createDatabase()
    const store = await PostgresStore.open(url)
    await store.createRun(run('r', 10))
    // An operator holds the run row, so the store's claim waits inside its transaction; then its connection is killed.
    const operator = new pg.Client({ connectionString: url })
    await operator.connect()
    await operator.query('BEGIN')
    await operator.query('SELECT 1 FROM longhaul.runs FOR UPDATE')
    const claim = store.claimRange('w', 10, TTL, 0).catch((e: unknown) => e)
    await expect
      .poll(
        async () =>
          (await operator.query("SELECT count(*)::int AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock'"))
            .rows[0].n,
      )
      .toBe(1)
    await operator.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE wait_event_type = 'Lock'")
    await operator.query('ROLLBACK')
    await operator.end()
    const error = await claim
    expect(error).toBeInstanceOf(StoreUnavailableError)
    expect((error as Error).message).toMatch(
      /lost the connection to PostgreSQL at 127\.0\.0\.1:\d+ .* during a claim: terminating connection.*wholly recorded or not at all/,
    )
    const again = (await store.claimRange('w', 10, TTL, 0))!
    expect([again.start, again.end]).toEqual([0, 10])
    await store.close()
  })

  it('a server restart: the store reconnects on its next call, and committed work is still there', async () => {
    const store = await PostgresStore.open(await server().createDatabase())
    await store.createRun(run('r', 10))
    await commitAll(store, (await store.claimRange('w', 4, TTL, 0))!)
    await server().restart()
    await commitAll(store, (await store.claimRange('w', 6, TTL, 0))!)
    expect(await store.committedItems()).toBe(10)
    await store.close()
  })
})

/**
 * A TCP proxy in front of the test server that can lose the reply to one COMMIT: the server records the transaction,
 * and the client's connection dies before it hears so (as when the server, or the network, goes away at that instant).
 */
async function commitReplyLosingProxy(
  port: number,
): Promise<{ port: number; loseNextCommitReply(): void; readonly lost: number; close(): Promise<void> }> {
  let armed = false
  let lost = 0
  const sockets = new Set<Socket>()
  const proxy = createServer((client) => {
    const upstream = connect(port, '127.0.0.1')
    for (const socket of [client, upstream]) {
      sockets.add(socket)
      socket.on('error', () => undefined)
      socket.on('close', () => sockets.delete(socket))
    }
    let committing = false
    client.on('data', (chunk: Buffer) => {
      // A simple query message: 'Q', its length, the text, a NUL.
      if (armed && chunk[0] === 0x51 && chunk.subarray(5).toString().startsWith('COMMIT\0')) {
        armed = false
        committing = true
      }
      upstream.write(chunk)
    })
    upstream.on('data', (chunk: Buffer) => {
      if (!committing) return void client.write(chunk)
      lost++
      client.destroy()
      upstream.destroy()
    })
    client.on('close', () => upstream.destroy())
    upstream.on('close', () => client.destroy())
  })
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve))
  return {
    port: (proxy.address() as { port: number }).port,
    loseNextCommitReply: () => void (armed = true),
    get lost() {
      return lost
    },
    close: async () => {
      for (const socket of sockets) socket.destroy()
      await new Promise((resolve) => proxy.close(resolve))
    },
  }
}

describe('postgres store: a server that goes away mid-run', () => {
  it('a call made while the server is down waits for it (waitForServerMs) and goes on; the owner hears of the outage once each way', async () => {
    const changes: string[] = []
    const store = await PostgresStore.open(await server().createDatabase(), {
      waitForServerMs: 10_000,
      onOutage: (change) => changes.push(change.state),
    })
    await store.createRun(run('r', 10))
    let claim: Promise<Claim | undefined> | undefined
    let heartbeat: Promise<void> | undefined
    await server().restart(async () => {
      claim = store.claimRange('w', 4, TTL, 0)
      heartbeat = store.renewClaims('w', TTL, 0)
      await new Promise((resolve) => setTimeout(resolve, 1_000))
    })
    const claimed = (await claim)!
    await heartbeat
    expect([claimed.start, claimed.end]).toEqual([0, 4])
    await commitAll(store, claimed)
    expect(await store.committedItems()).toBe(4)
    expect(changes).toEqual(['unreachable', 'answering'])
    await store.close()
  })

  it('a server away for longer than waitForServerMs: the calls throw StoreUnavailableError once that wait is over; opening never waits', async () => {
    const store = await PostgresStore.open(await server().createDatabase(), { waitForServerMs: 500 })
    await store.createRun(run('r', 10))
    let error: unknown
    let waitedMs = 0
    await server().restart(async () => {
      const started = Date.now()
      error = await store.claimRange('w', 4, TTL, 0).catch((e: unknown) => e)
      waitedMs = Date.now() - started
    })
    expect(error).toBeInstanceOf(StoreUnavailableError)
    expect((error as Error).message).toMatch(
      /ECONNREFUSED.*run again once the server answers\. \(Tried again for \d+\.\d s\.\)$/,
    )
    expect(waitedMs).toBeGreaterThanOrEqual(400)
    expect(waitedMs).toBeLessThan(3_000)
    // Committed work is all there, and the store goes on once the server answers.
    expect((await store.claimRange('w', 4, TTL, 0))?.start).toBe(0)
    await store.close()
    const port = await freePort()
    const started = Date.now()
    await expect(
      PostgresStore.open(`postgres://postgres@127.0.0.1:${port}/db`, { waitForServerMs: 10_000 }),
    ).rejects.toBeInstanceOf(StoreUnavailableError)
    expect(Date.now() - started).toBeLessThan(2_000)
  })

  it('no-duplicates: a claim and a commit whose COMMIT replies were lost are not made twice; the retry finds what the lost attempt recorded', async () => {
    const url = await server().createDatabase()
    const proxy = await commitReplyLosingProxy(server().port)
    const store = await PostgresStore.open(url.replace(`:${server().port}/`, `:${proxy.port}/`), {
      waitForServerMs: 10_000,
    })
    try {
      await store.createRun(run('r', 10))
      proxy.loseNextCommitReply()
      // Recorded, its reply lost: the retry hands back that claim rather than leave it held, unknown, under this name.
      const claim = (await store.claimRange('w', 4, TTL, 0))!
      expect(proxy.lost).toBe(1)
      expect([claim.start, claim.end]).toEqual([0, 4])
      expect((await sql(url, `SELECT start::int, stop::int FROM longhaul.claims WHERE worker = 'w'`)).rows).toEqual([
        { start: 0, stop: 4 },
      ])
      proxy.loseNextCommitReply()
      // Recorded, its reply lost: the retry finds it recorded, rather than refuse it as retaken.
      await commitAll(store, claim)
      expect(proxy.lost).toBe(2)
      expect(await store.committedItems()).toBe(4)
      expect((await sql(url, `SELECT count(*)::int AS n FROM longhaul.events WHERE type = 'checkpoint'`)).rows).toEqual(
        [{ n: 1 }],
      )
      const next = (await store.claimRange('w', 6, TTL, 0))!
      expect([next.start, next.end]).toEqual([4, 10])
    } finally {
      await store.close()
      await proxy.close()
    }
  })
})

describe('a held-up process never holds the run', () => {
  it('one-owner: a journal session left inside a transaction (its process paused mid-claim) is ended by the server, and its row locks go with it', async () => {
    const url = await server().createDatabase()
    const store = await PostgresStore.open(url)
    const pool = createPool(url, { poolSize: 1, connectTimeoutMs: 10_000 })
    try {
      await store.createRun(run('held', 10))
      const held = await pool.connect()
      held.on('error', () => {})
      // What a process stopped between the statements of a claim leaves: the run's row locked, nothing more said.
      await held.query('BEGIN')
      await held.query(`SELECT 1 FROM longhaul.runs WHERE run_id = 'held' FOR UPDATE`)
      const started = Date.now()
      // Another process's claim waits on that lock, and gets it once the server ends the idle session.
      const claim = await store.claimRange('w', 4, TTL, 0)
      expect([claim!.start, claim!.end]).toEqual([0, 4])
      expect(Date.now() - started).toBeLessThan(30_000)
      await expect(held.query('SELECT 1')).rejects.toThrow()
      held.release(true)
    } finally {
      await pool.end()
      await store.close()
    }
  }, 60_000)
})
