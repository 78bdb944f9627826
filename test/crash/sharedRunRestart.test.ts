/**
 * A run shared by an owner and two workers (real child processes, one real
 * PostgreSQL journal, one shared folder) while its database is restarted:
 * stopped at once, as on a crash, and started again on the same port a little
 * later. An outage shorter than the lease TTL is waited for, not a failure:
 * every process goes on, the run completes, each item is committed once, and
 * the digest is a single-process SQLite run's (no-loss, no-duplicates,
 * determinism).
 */
import type { ChildProcess } from 'node:child_process'
import { hostname } from 'node:os'
import { join } from 'node:path'
import { beforeAll, expect, it } from 'vitest'
import {
  type CliResult,
  expectVerifiedComplete,
  fixture,
  pace,
  referenceDigest,
  startCli,
  tempDir,
  waitFor,
} from '../support/cli.ts'
import { sql, usePostgres } from '../support/postgres.ts'

const server = usePostgres()
const TOTAL = 3_000
/**
 * Items take 4 ms each until the database is back (about 12 s of work, 4–6 s for three processes of one thread each on
 * two or three cores, so the outage comes mid-run); then the rest goes at full speed.
 */
const ITEM_MS = 4
/** The database stays down at least this long, and until every process has found it gone (at most MAX_DOWN_MS). */
const MIN_DOWN_MS = 2_000
const MAX_DOWN_MS = 8_000
/** Above the longest outage, its start included, plus a heartbeat's interval (a third of it): no claim lapses meanwhile. */
const TTL_SECONDS = 20
const WAITING = /the journal's database is unreachable; retrying/
const JOB = fixture('squares.ts')
const root = tempDir()
let expected: string

beforeAll(async () => {
  expected = await referenceDigest(JOB, TOTAL, join(root, 'reference'))
}, 60_000)

function start(
  command: 'run' | 'worker',
  args: readonly string[],
  env: Record<string, string>,
): { child: ChildProcess; done: Promise<CliResult>; stderr: () => string } {
  const started = startCli([command, JOB, '--workers', '1', '--lease-ttl', String(TTL_SECONDS), '--json', ...args], env)
  let stderr = ''
  started.child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
  return { ...started, stderr: () => stderr }
}

it('no-loss, no-duplicates, determinism: the database restarted mid-run (down for less than the lease TTL) is waited for by the owner and both workers; the run completes, each item committed once, with the single-process SQLite digest', async () => {
  const url = await server().createDatabase()
  const out = join(root, 'restarted-database')
  const paced = pace(ITEM_MS)
  const owner = start('run', ['--out', out, '--total', String(TOTAL), '--store', url], paced.env)
  const runId = await waitFor('the owner to record the run', () => {
    if (owner.child.exitCode !== null) throw new Error(`the owner exited early: ${owner.stderr()}`)
    return /--run (\S+)/.exec(owner.stderr())?.[1]
  })
  const workers = [
    start('worker', ['--store', url, '--run', runId, '--out', out], paced.env),
    start('worker', ['--store', url, '--run', runId, '--out', out], paced.env),
  ]
  const processes = [owner, ...workers]
  const names = processes.map((p) => `${hostname()}:${p.child.pid}`)
  const committed = async (): Promise<number> =>
    (
      await sql<{ n: number }>(
        url,
        'SELECT COALESCE(SUM(stop - start), 0)::int AS n FROM longhaul.ranges WHERE run_id = $1',
        [runId],
      )
    )[0]!.n

  // Mid-run: every process holds a claim, some items are committed, most are not.
  await waitFor('every process to hold a claim, and some items to be committed', async () => {
    const holders = await sql<{ worker: string }>(
      url,
      'SELECT DISTINCT worker FROM longhaul.claims WHERE run_id = $1 AND expires_at > 0',
      [runId],
    )
    return names.every((name) => holders.some((h) => h.worker === name)) && (await committed()) >= TOTAL / 10
      ? true
      : undefined
  })
  expect(await committed()).toBeLessThan(TOTAL / 2)
  // Down for 2 s, and longer if need be until each process has found the database gone (or has exited: a process
  // that does not wait for it fails at once).
  await server().restart(async () => {
    await new Promise((resolve) => setTimeout(resolve, MIN_DOWN_MS))
    const noticed = (): true | undefined =>
      processes.every((p) => WAITING.test(p.stderr()) || p.child.exitCode !== null) ? true : undefined
    await waitFor('every process to find the database gone', noticed, MAX_DOWN_MS - MIN_DOWN_MS).catch(() => undefined)
  })
  paced.release()

  const results = await Promise.all(processes.map((p) => p.done))
  const summaries = results.map((result, i) => {
    expect(result.code, `process ${names[i]} exited ${result.code ?? result.signal}:\n${result.stderr}`).toBe(0)
    const summary = JSON.parse(result.stdout) as { state: string; digest: string; committedThisSession: number }
    expect(summary).toMatchObject({ state: 'complete', digest: expected })
    // Each said once that it was waiting for the database, and once that it answered again.
    expect(result.stderr.match(new RegExp(WAITING, 'g')), result.stderr).toHaveLength(1)
    expect(result.stderr).toMatch(/the journal's database answers again/)
    return summary
  })
  // Each item committed once: the processes' commits add up to the total, none was refused, and the journal's ranges
  // cover every item once.
  expect(summaries.reduce((sum, s) => sum + s.committedThisSession, 0)).toBe(TOTAL)
  expect(
    await sql(url, `SELECT detail FROM longhaul.events WHERE run_id = $1 AND type IN ('claim-lost', 'failed')`, [
      runId,
    ]),
  ).toEqual([])
  const [ranges] = await sql<{ items: number; gaps: number }>(
    url,
    `SELECT SUM(stop - start)::int AS items, COUNT(*) FILTER (WHERE start <> COALESCE(previous, 0))::int AS gaps
     FROM (SELECT start, stop, LAG(stop) OVER (ORDER BY start) AS previous FROM longhaul.ranges WHERE run_id = $1) r`,
    [runId],
  )
  expect(ranges).toEqual({ items: TOTAL, gaps: 0 })
  // verify finds the journal through the folder's store.json, and agrees.
  await expectVerifiedComplete(out, TOTAL, expected)
})
