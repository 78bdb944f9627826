/**
 * A run shared by several processes through a real PostgreSQL journal and one
 * shared folder (`run --store`, `worker`): real child processes, real
 * SIGKILLs. Whoever dies, the run completes as long as one process lives,
 * with the digest of a single-process SQLite run (no-loss, no-duplicates,
 * determinism, one-owner: a dead process's ranges are retaken after its
 * lease's TTL). A process running a different job is refused
 * (same-job-or-refuse).
 */
import type { ChildProcess } from 'node:child_process'
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { hostname } from 'node:os'
import { join } from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'
import {
  type CliResult,
  expectVerifiedComplete,
  fixture,
  type Pace,
  pace,
  referenceDigest,
  runCliHere,
  startCli,
  tempDir,
  waitFor,
} from '../support/cli.ts'
import { freePort, sql, usePostgres } from '../support/postgres.ts'

const server = usePostgres()
const TOTAL = 3_000
const GROWN = TOTAL + 600
/** A dead process's ranges are retaken after 2 s. */
const TTL = ['--lease-ttl', '2']
const JOB = fixture('squares.ts')
const root = tempDir()
let expected: string
let grownDigest: string

beforeAll(async () => {
  ;[expected, grownDigest] = await Promise.all([
    referenceDigest(JOB, TOTAL, join(root, 'reference')),
    referenceDigest(JOB, GROWN, join(root, 'grown-reference')),
  ])
}, 120_000)

/** The owner's command line: `run` of `total` items, its journal in the database at `url`, its shards in `out`. */
const ownerArgs = (url: string, out: string, total = TOTAL): string[] => [
  'run',
  JOB,
  '--out',
  out,
  '--total',
  String(total),
  '--workers',
  '1',
  '--store',
  url,
  ...TTL,
  '--json',
]

/** Starts the run's owner and waits until the run is recorded; returns its id. */
async function startOwner(
  url: string,
  out: string,
  env: Record<string, string>,
): Promise<{ child: ChildProcess; done: Promise<CliResult>; runId: string }> {
  const owner = startCli(ownerArgs(url, out), env)
  let stderr = ''
  owner.child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
  const runId = await waitFor('the owner to record the run', async () => {
    if (owner.child.exitCode !== null) throw new Error(`the owner exited early: ${stderr}`)
    return /--run (\S+)/.exec(stderr)?.[1]
  })
  expect(JSON.parse(readFileSync(join(out, '.longhaul', 'store.json'), 'utf8')).runId).toBe(runId)
  return { ...owner, runId }
}

/**
 * The owner run in this process (runHere), for a test that neither kills nor signals it. Waits until the run is
 * recorded: the folder's store.json names it, and the database holds it.
 */
async function startOwnerHere(
  url: string,
  out: string,
  env: Record<string, string>,
): Promise<{ pid: number; done: Promise<CliResult>; runId: string }> {
  let ended: CliResult | undefined
  const done = runCliHere(ownerArgs(url, out), env)
  done.then((result) => (ended = result)).catch(() => undefined)
  const link = join(out, '.longhaul', 'store.json')
  const runId = await waitFor('the owner to record the run', async () => {
    if (ended) throw new Error(`the owner exited early (${ended.code}): ${ended.stderr}`)
    if (!existsSync(link)) return undefined
    const id = JSON.parse(readFileSync(link, 'utf8')).runId as string
    return (await sql(url, 'SELECT 1 FROM longhaul.runs WHERE run_id = $1', [id])).length ? id : undefined
  })
  return { pid: process.pid, done, runId }
}

/** How each case begins: a new database, the folder `name`, a paced run (held) and its owner, started. */
async function ownedRun(name: string): Promise<{
  url: string
  out: string
  run: Pace
  owner: Awaited<ReturnType<typeof startOwner>>
}> {
  const url = await server().createDatabase()
  const out = join(root, name)
  const run = pace()
  return { url, out, run, owner: await startOwner(url, out, run.env) }
}

/** The same, with the owner in this process: a case that neither kills nor signals the owner. */
async function ownedRunHere(name: string): Promise<{
  url: string
  out: string
  run: Pace
  owner: Awaited<ReturnType<typeof startOwnerHere>>
}> {
  const url = await server().createDatabase()
  const out = join(root, name)
  const run = pace()
  return { url, out, run, owner: await startOwnerHere(url, out, run.env) }
}

function startWorker(
  url: string,
  out: string,
  runId: string,
  env: Record<string, string>,
): ReturnType<typeof startCli> {
  return startCli(
    ['worker', JOB, '--store', url, '--run', runId, '--out', out, '--workers', '1', ...TTL, '--json'],
    env,
  )
}

/** Waits until process `pid` holds a live claim of the run. */
async function holdsClaim(url: string, runId: string, pid: number, who: string): Promise<void> {
  await waitFor(`${who} to hold a claim`, async () => ((await claimsOf(url, runId, pid)).length ? true : undefined))
}

/** Waits until process `pid` holds a live claim; returns its claims. */
function claimsOf(url: string, runId: string, pid: number): Promise<{ start: number; stop: number }[]> {
  return sql<{ start: number; stop: number }>(
    url,
    'SELECT start::int, stop::int FROM longhaul.claims WHERE run_id = $1 AND worker = $2 AND expires_at > 0',
    [runId, `${hostname()}:${pid}`],
  )
}

async function expectComplete(result: CliResult): Promise<{ committedThisSession: number }> {
  expect(result.code, result.stderr).toBe(0)
  const summary = JSON.parse(result.stdout) as { state: string; digest: string; committedThisSession: number }
  expect(summary).toMatchObject({ state: 'complete', digest: expected })
  return summary
}

async function expectVerified(out: string): Promise<void> {
  // verify finds the journal through the folder's store.json.
  await expectVerifiedComplete(out, TOTAL, expected)
}

describe('a run shared by several processes (PostgreSQL journal, shared folder)', () => {
  it('no-duplicates, determinism: an owner and two workers share the run, each item is committed once, and the digest is the single-process SQLite digest', async () => {
    const { url, out, run, owner } = await ownedRunHere('three')
    const workers = [startWorker(url, out, owner.runId, run.env), startWorker(url, out, owner.runId, run.env)]
    // Every process holds a range before the run may finish.
    for (const [i, pid] of [owner.pid, ...workers.map((w) => w.child.pid!)].entries())
      await holdsClaim(url, owner.runId, pid, `process ${i}`)
    run.release()
    const results = await Promise.all([owner.done, ...workers.map((w) => w.done)])
    const summaries = await Promise.all(results.map(expectComplete))
    // Every process took ranges, and together they committed each item exactly once.
    for (const summary of summaries) expect(summary.committedThisSession).toBeGreaterThan(0)
    expect(summaries.reduce((sum, s) => sum + s.committedThisSession, 0)).toBe(TOTAL)
    // The owner's progress files speak for the whole run, not for its own share.
    expect(JSON.parse(readFileSync(join(out, 'progress.json'), 'utf8'))).toMatchObject({
      state: 'complete',
      done: TOTAL,
      total: TOTAL,
    })
    await expectVerified(out)
  })

  it('one-owner, no-loss: a worker SIGKILLed while it holds a claim has its range retaken after the lease TTL, and the run completes with the same digest', async () => {
    const { url, out, run, owner } = await ownedRunHere('killed-worker')
    const victim = startWorker(url, out, owner.runId, run.env)
    const survivor = startWorker(url, out, owner.runId, run.env)
    await holdsClaim(url, owner.runId, victim.child.pid!, 'the victim')
    victim.child.kill('SIGKILL')
    expect((await victim.done).signal).toBe('SIGKILL')
    // What it held when it died: nobody released it, so only its lease's expiry gives it to the others.
    const orphaned = await claimsOf(url, owner.runId, victim.child.pid!)
    expect(orphaned.length).toBeGreaterThan(0)
    run.release()
    const [ownerResult, survivorResult] = await Promise.all([owner.done, survivor.done])
    await expectComplete(ownerResult)
    await expectComplete(survivorResult)
    for (const claim of orphaned) {
      const [range] = await sql<{ n: number }>(
        url,
        'SELECT count(*)::int AS n FROM longhaul.ranges WHERE run_id = $1 AND start = $2',
        [owner.runId, claim.start],
      )
      expect(range!.n, `items from ${claim.start}, held by the dead worker, were committed by another`).toBe(1)
    }
    await expectVerified(out)
  })

  it("one-owner, no-loss: the owner SIGKILLed mid-run leaves the run to its workers, which complete it; the owner's command then resumes the completed run", async () => {
    const { url, out, run, owner } = await ownedRun('killed-owner')
    const workers = [startWorker(url, out, owner.runId, run.env), startWorker(url, out, owner.runId, run.env)]
    await holdsClaim(url, owner.runId, workers[0]!.child.pid!, 'a worker')
    await holdsClaim(url, owner.runId, owner.child.pid!, 'the owner')
    owner.child.kill('SIGKILL')
    expect((await owner.done).signal).toBe('SIGKILL')
    run.release()
    for (const result of await Promise.all(workers.map((w) => w.done))) await expectComplete(result)
    await expectVerified(out)
    // The same command finds the run complete: nothing is made again (in this process: no process is at stake any more).
    const again = await runCliHere(ownerArgs(url, out))
    expect((await expectComplete(again)).committedThisSession).toBe(0)
  })

  it('atomic-commit: a restarted owner leaves unrecorded shards alone (another process may be about to commit one); they are removed once every item is committed', async () => {
    const { url, out, run, owner: first } = await ownedRun('restarted-owner')
    // This worker kills itself at its first commit: its shard is durable in data/ under its staged name, and the journal does not record it.
    const dying = startWorker(url, out, first.runId, { ...run.env, LONGHAUL_CRASH_AT: 'commit:1' })
    expect((await dying.done).signal).toBe('SIGKILL')
    const starts = (await claimsOf(url, first.runId, dying.child.pid!)).map(
      (claim) => `-${String(claim.start).padStart(12, '0')}-`,
    )
    const unrecorded = readdirSync(join(out, 'data')).filter(
      (name) => name.startsWith('.claim-') && starts.some((start) => name.includes(start)),
    )
    expect(unrecorded.length).toBeGreaterThan(0)
    // And a torn temp shard, as a process killed in the middle of writing one leaves (no process makes this name again).
    const torn = '.tmp-0123456789ab-000000000000-000000000007.jsonl'
    writeFileSync(join(out, 'data', torn), '{"i":0')
    unrecorded.push(torn)
    first.child.kill('SIGKILL')
    expect((await first.done).signal).toBe('SIGKILL')
    // The same command, at once: the dead owner was on this host, so its lease is taken over without waiting for the TTL.
    const again = startCli(ownerArgs(url, out), run.env)
    let stderr = ''
    again.child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
    await waitFor('the owner to resume', () => (/--run /.test(stderr) ? true : undefined))
    for (const name of unrecorded)
      expect(existsSync(join(out, 'data', name)), `data/${name} after the owner resumed`).toBe(true)
    const worker = startWorker(url, out, first.runId, run.env)
    run.release()
    const results = await Promise.all([again.done, worker.done])
    for (const result of results) await expectComplete(result)
    expect(JSON.parse(results[0]!.stdout)).toMatchObject({ runId: first.runId, resumed: true })
    // verify finds no stray file: the dead processes' files went once the run was complete.
    expect(existsSync(join(out, 'data', torn))).toBe(false)
    await expectVerified(out)
  })

  it('one-owner (fencing): a worker whose lease lapsed while an item held it up cannot commit the items another retook; it drops its copy and each item is committed once', async () => {
    const { url, out, run, owner } = await ownedRunHere('lapsed-worker')
    // Its items take 3 s each, while the others' take 10 ms (until released): it is still making them when its claims are retaken.
    const slow = startWorker(url, out, owner.runId, { ...run.env, ITEM_MS: '3000' })
    const other = startWorker(url, out, owner.runId, run.env)
    const name = `${hostname()}:${slow.child.pid}`
    await holdsClaim(url, owner.runId, slow.child.pid!, 'the slow worker')
    // Its lease lapses, as if its heartbeats had stopped reaching the database (backdated here rather than waited for;
    // the name is cleared so that its next heartbeat cannot renew it): the others retake and commit the items.
    const held = await sql<{ start: number }>(
      url,
      `UPDATE longhaul.claims SET expires_at = 1, worker = '' WHERE run_id = $1 AND worker = $2 RETURNING start::int`,
      [owner.runId, name],
    )
    expect(held.length).toBeGreaterThan(0)
    // The item the slow worker is making still takes its 3 s; everything else now goes at full speed.
    run.release()
    await waitFor('the retaken items to be committed', async () => {
      const rows = await sql<{ n: number }>(
        url,
        'SELECT count(*)::int AS n FROM longhaul.ranges WHERE run_id = $1 AND start = ANY($2::bigint[])',
        [owner.runId, held.map((h) => h.start)],
      )
      return rows[0]!.n === held.length ? true : undefined
    })
    const results = await Promise.all([owner.done, slow.done, other.done])
    const summaries = await Promise.all(results.map(expectComplete))
    // Its commits of the retaken items were refused (fencing): each item is counted once, by whoever retook it.
    expect(summaries.reduce((sum, s) => sum + s.committedThisSession, 0)).toBe(TOTAL)
    expect(results[1]!.stderr).toMatch(/retaken by another process/)
    const lost = await sql<{ detail: { worker: string; start: number } }>(
      url,
      `SELECT detail FROM longhaul.events WHERE run_id = $1 AND type = 'claim-lost'`,
      [owner.runId],
    )
    expect(lost.map((e) => e.detail.worker)).toContain(name)
    await expectVerified(out)
  })

  it('fenced-output: an owner SIGSTOPped past its lease and taken over by the same command, woken after the run completed, leaves no file in the shared data/ and does not touch the progress files', async () => {
    const { url, out, run, owner: first } = await ownedRun('paused-owner')
    await waitFor('the owner to commit', async () =>
      (await sql(url, 'SELECT 1 FROM longhaul.ranges WHERE run_id = $1', [first.runId])).length >= 2 ? true : undefined,
    )
    first.child.kill('SIGSTOP')
    const stoppedAt = Date.now()
    try {
      // Its lease and claims lapse, as they do 2 s after it stopped (backdated here rather than waited for): the same
      // command takes the run over and completes it.
      const lapsed = await sql(
        url,
        `UPDATE longhaul.owners SET expires_at = 1 WHERE run_id = $1 AND pid = $2 RETURNING 1`,
        [first.runId, first.child.pid],
      )
      expect(lapsed).toHaveLength(1)
      await sql(url, 'UPDATE longhaul.claims SET expires_at = 1 WHERE run_id = $1 AND expires_at > 0', [first.runId])
      // A renewal it sent just before it stopped may reach the database after that: then its lease lapses by itself.
      await waitFor('the stopped owner to have no live lease', async () =>
        (
          await sql(url, 'SELECT 1 FROM longhaul.owners WHERE run_id = $1 AND pid = $2 AND expires_at > $3', [
            first.runId,
            first.child.pid,
            Date.now(),
          ])
        ).length === 0
          ? true
          : undefined,
      )
      // The taking over command, in this process (at full speed: ITEM_MS is not set here); the stopped owner is a real process.
      const second = await runCliHere(ownerArgs(url, out))
      expect(JSON.parse(second.stdout)).toMatchObject({ runId: first.runId, resumed: true, state: 'complete' })
      // Woken no sooner than its lease would have run out by its own clock, as it would be had the lease lapsed and
      // not been backdated: another process can take a run over only then (a takeover in this process can end
      // within the 2 s, and the stopped owner, still within the lease it renewed, would rightly go on writing).
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, stoppedAt + 2_000 - Date.now())))
    } finally {
      run.release()
      first.child.kill('SIGCONT')
    }
    const woken = await first.done
    expect(woken.code).toBe(1)
    expect(woken.stderr).toMatch(/no longer owns the run .* took the run over/)
    const recorded = (
      await sql<{ files: { name: string }[] }>(url, 'SELECT files FROM longhaul.ranges WHERE run_id = $1', [
        first.runId,
      ])
    ).flatMap((r) => r.files.map((f) => f.name))
    expect(
      readdirSync(join(out, 'data'))
        .filter((name) => name !== 'index.json')
        .sort(),
    ).toEqual(recorded.sort())
    expect(JSON.parse(readFileSync(join(out, 'progress.json'), 'utf8'))).toMatchObject({
      state: 'complete',
      done: TOTAL,
    })
    expect(readFileSync(join(out, 'PROGRESS.txt'), 'utf8')).toMatch(/^COMPLETE/)
    await expectVerified(out)
  })

  it("no-loss: the owner stopped and resumed with a larger --total while a worker goes on; the worker takes the new items too, and both end with the grown run's single-process digest", async () => {
    const { url, out, run, owner } = await ownedRun('grown')
    const grown = GROWN
    const worker = startWorker(url, out, owner.runId, run.env)
    await holdsClaim(url, owner.runId, worker.child.pid!, 'the worker')
    owner.child.kill('SIGINT')
    expect((await owner.done).code).toBe(130)
    // The owner's command again, in this process: neither killed nor signalled.
    const resuming = runCliHere(ownerArgs(url, out, grown), run.env)
    // The run goes at full speed once it has grown, while the worker is still in it.
    await waitFor('the run to grow', async () =>
      (await sql<{ total: number }>(url, 'SELECT total::int FROM longhaul.runs WHERE run_id = $1', [owner.runId]))[0]
        ?.total === grown
        ? true
        : undefined,
    )
    expect(worker.child.exitCode).toBeNull()
    run.release()
    const [resumed, workerResult] = await Promise.all([resuming, worker.done])
    for (const result of [resumed, workerResult]) {
      expect(result.code, result.stderr).toBe(0)
      expect(JSON.parse(result.stdout)).toMatchObject({
        state: 'complete',
        total: grown,
        committed: grown,
        digest: grownDigest,
      })
    }
    const verified = await runCliHere(['verify', out, '--json'])
    expect(JSON.parse(verified.stdout)).toMatchObject({ complete: true, items: grown, stray: [], digest: grownDigest })
  })

  it('a worker stopped with Ctrl-C commits what it made, gives back the rest of its claims at once, and exits 130; the run goes on without it', async () => {
    const { url, out, run, owner } = await ownedRunHere('interrupted-worker')
    const leaving = startWorker(url, out, owner.runId, run.env)
    await holdsClaim(url, owner.runId, leaving.child.pid!, 'the worker')
    leaving.child.kill('SIGINT')
    const left = await leaving.done
    expect(left.code, left.stderr).toBe(130)
    expect(JSON.parse(left.stdout)).toMatchObject({ state: 'interrupted', digest: null })
    // Given back, not left to expire: nothing is held under its name any more.
    expect(await claimsOf(url, owner.runId, leaving.child.pid!)).toEqual([])
    const [event] = await sql<{ detail: { worker: string } }>(
      url,
      `SELECT detail FROM longhaul.events WHERE run_id = $1 AND type = 'left'`,
      [owner.runId],
    )
    expect(event!.detail.worker).toBe(`${hostname()}:${leaving.child.pid}`)
    run.release()
    await expectComplete(await owner.done)
    await expectVerified(out)
  })

  describe('refusals', () => {
    let url: string
    let out: string
    let runId: string
    beforeAll(async () => {
      url = await server().createDatabase()
      out = join(root, 'refusals')
      // A job without params, so that another job's params fit it and only its fingerprint tells them apart.
      const owner = await runCliHere([
        'run',
        fixture('blocking.ts'),
        '--out',
        out,
        '--total',
        '20',
        '--workers',
        '1',
        '--store',
        url,
        '--json',
      ])
      expect(owner.code, owner.stderr).toBe(0)
      runId = JSON.parse(owner.stdout).runId as string
    })

    it("same-job-or-refuse: a worker whose job fingerprint differs from the run's is refused, naming what differs", async () => {
      const result = await runCliHere(['worker', fixture('blobs.ts'), '--store', url, '--run', runId, '--out', out])
      expect(result.code).toBe(2)
      expect(result.stderr).toMatch(
        new RegExp(
          `run '${runId}' in postgres://postgres@127\\.0\\.0\\.1:\\d+/\\w+ holds a run of a different job: .*blocking`,
        ),
      )
      expect(result.stderr).toMatch(/same job file/)
      expect(await sql(url, `SELECT 1 FROM longhaul.events WHERE run_id = $1 AND type = 'joined'`, [runId])).toEqual([])
    })

    it("same-job-or-refuse: a worker whose job does not even take the run's params is refused as a different job", async () => {
      const squaresUrl = await server().createDatabase()
      const squaresOut = join(root, 'refusals-squares')
      const owner = await runCliHere([
        'run',
        JOB,
        '--out',
        squaresOut,
        '--total',
        '20',
        '--workers',
        '1',
        '--store',
        squaresUrl,
        '--json',
      ])
      expect(owner.code, owner.stderr).toBe(0)
      const squaresRun = JSON.parse(owner.stdout).runId as string
      const result = await runCliHere([
        'worker',
        fixture('blobs.ts'),
        '--store',
        squaresUrl,
        '--run',
        squaresRun,
        '--out',
        squaresOut,
      ])
      expect(result.code).toBe(2)
      expect(result.stderr).toMatch(/holds a run of a different job: the run's params do not fit/)
    })

    it('a worker given a run id the database does not hold is refused, with the runs it does hold', async () => {
      const result = await runCliHere([
        'worker',
        fixture('blocking.ts'),
        '--store',
        url,
        '--run',
        'no-such-run',
        '--out',
        out,
      ])
      expect(result.code).toBe(2)
      expect(result.stderr).toContain(`no run 'no-such-run'`)
      expect(result.stderr).toContain(runId)
    })

    it("a worker whose --out is not the run's shared folder is refused before it writes anything", async () => {
      const result = await runCliHere([
        'worker',
        fixture('blocking.ts'),
        '--store',
        url,
        '--run',
        runId,
        '--out',
        join(root, 'elsewhere'),
      ])
      expect(result.code).toBe(2)
      expect(result.stderr).toMatch(/is not the shared folder of run/)
    })

    it('a database nobody answers at is reported as unreachable (exit 1), with where it was looked for', async () => {
      const port = await freePort()
      const result = await runCliHere([
        'worker',
        fixture('blocking.ts'),
        '--store',
        `postgres://postgres@127.0.0.1:${port}/jobs`,
        '--run',
        runId,
        '--out',
        out,
      ])
      expect(result.code).toBe(1)
      expect(result.stderr).toContain(`127.0.0.1:${port}`)
    })
  })
})
