/**
 * `worker --concurrency`, proved with real processes on a real PostgreSQL: a worker with many async items in flight
 * is SIGKILLed mid-run; what it held is retaken after its lease's TTL, and the run completes with every item exactly
 * once and the digest of a single-process SQLite run (no-loss, no-duplicates, determinism).
 */
import { hostname } from 'node:os'
import { join } from 'node:path'
import { beforeAll, expect, it } from 'vitest'
import { runMapJob } from '../../src/index.ts'
import { expectVerifiedComplete, fixture, killedAfterEach, pace, tempDir, waitFor } from '../support/cli.ts'
import { sql, usePostgres } from '../support/postgres.ts'
import { type SharedRunSpec, startSharedOwner, startSharedWorker, summaryOf } from '../support/sharedProcesses.ts'

const database = usePostgres()
const started = killedAfterEach()
const JOB = fixture('waiting.ts')
const TOTAL = 3_000
/** Items in flight in the worker that is killed. */
const IN_FLIGHT = 64
let expected: string

beforeAll(async () => {
  // The single-process SQLite digest, made in this process with 128 items in flight (the job's own 8 would wait 3 s
  // through the items' waits): the same digest at any concurrency (test/runner/concurrency.test.ts).
  const reference = await runMapJob({
    jobPath: JOB,
    outDir: join(tempDir(), 'reference'),
    total: TOTAL,
    workers: 2,
    concurrency: 128,
  })
  expect(reference).toMatchObject({ state: 'complete', digest: expect.stringMatching(/^[0-9a-f]{64}$/) })
  expected = reference.digest!
}, 120_000)

it('no-loss, no-duplicates, determinism: a worker with 64 items in flight SIGKILLed mid-run; the run completes with every item once and the single-process digest', async () => {
  // Each item waits 0–300 ms (its bytes do not depend on it) until the kill: the worker keeps its 64 slots busy. Then
  // 0–15 ms: what is left goes fast, and the victim's claims are retaken once they expire.
  const slowed = pace()
  const spec: SharedRunSpec = {
    job: JOB,
    url: await database().createDatabase(),
    out: join(tempDir(), 'run'),
    flags: ['--workers', '1', '--lease-ttl', '2'],
    env: { SLOW: '20', PACE_FILE: slowed.env.PACE_FILE! },
    started,
  }
  const owner = await startSharedOwner(spec, TOTAL, ['--concurrency', '4'])
  const victim = startSharedWorker(spec, owner.runId, ['--concurrency', String(IN_FLIGHT)])
  const survivor = startSharedWorker(spec, owner.runId, ['--concurrency', '32'])
  const claimName = `${hostname()}:${victim.child.pid}`
  // Mid-run: the worker has committed ranges of its own, and holds claims over at least as many items as it has slots.
  const held = await waitFor('the worker to commit and hold many items', async () => {
    const [row] = await sql<{ held: number; committed: number }>(
      spec.url,
      `SELECT (SELECT coalesce(sum(stop - start), 0)::int FROM longhaul.claims WHERE run_id = $1 AND worker = $2 AND expires_at > 0) AS held,
              (SELECT coalesce(sum(stop - start), 0)::int FROM longhaul.ranges WHERE run_id = $1) AS committed`,
      [owner.runId, claimName],
    )
    return row && row.held >= IN_FLIGHT && row.committed >= 200 && row.committed < TOTAL / 2 ? row : undefined
  })
  victim.child.kill('SIGKILL')
  expect((await victim.done).signal).toBe('SIGKILL')
  slowed.release()
  expect(held.held).toBeGreaterThanOrEqual(IN_FLIGHT)

  // The others retake what the victim held once its claims expire, and end with the single-process digest.
  for (const done of [owner.done, survivor.done])
    expect(summaryOf(await done)).toMatchObject({ state: 'complete', digest: expected })
  // Every item once in the output (verify reads the shared folder and the journal), with the reference digest.
  await expectVerifiedComplete(spec.out, TOTAL, expected)
}, 120_000)
