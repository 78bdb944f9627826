/**
 * `status`, `watch` and the dashboard on a run shared through PostgreSQL: a
 * real server, a real owner (`run --store`) and real workers (`worker`) as
 * child processes. The folder's `.longhaul/store.json` makes it a run; its
 * journal, read through the store, gives the committed count and who still
 * holds the owner lease or a claim, so a run whose owner died while its
 * workers go on is reported live, not "run the same command to resume".
 */
import { type ChildProcess, execFile } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { hostname } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { describe, expect, it, onTestFinished } from 'vitest'
import { RootIndex } from '../../src/dashboard/rootIndex.ts'
import { dashboardApp } from '../../src/dashboard/server.ts'
import { BIN, type CliResult, fixture, pace, runCliHere, startCli, tempDir, waitFor } from '../support/cli.ts'
import { freePort, sql, usePostgres } from '../support/postgres.ts'

const server = usePostgres()
const JOB = fixture('squares.ts')
/** 3 ms an item: 4,000 items are about 12 s of work for one process, so a worker is still at it well after the owner is killed. */
const TOTAL = 4_000
const env = { ITEM_MS: '3' }
/** A dead process's claims expire after 2 s. */
const TTL = ['--lease-ttl', '2']
const root = tempDir('longhaul-shared-status-')
const me = hostname()

interface StatusJson {
  dir: string
  live: boolean
  ownerGone: boolean
  summary: string
  state: string
  done: number
  total: number
  owner: { pid: number; host: string }
  shared?: { store: string; runId: string; ownerAlive: boolean; workers: string[] }
  error?: { code: string; message: string }
}

/** Starts the run's owner and waits until it has recorded the run; returns its id. */
async function startOwner(
  url: string,
  out: string,
  itemEnv: Record<string, string> = env,
): Promise<{ child: ChildProcess; done: Promise<CliResult>; runId: string }> {
  const owner = startCli(
    ['run', JOB, '--out', out, '--total', String(TOTAL), '--workers', '1', '--store', url, ...TTL, '--json'],
    itemEnv,
  )
  let stderr = ''
  owner.child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
  const runId = await waitFor('the owner to record the run and write progress.json', () => {
    if (owner.child.exitCode !== null) throw new Error(`the owner exited early: ${stderr}`)
    return existsSync(join(out, 'progress.json')) ? /--run (\S+)/.exec(stderr)?.[1] : undefined
  })
  return { ...owner, runId }
}

function startWorker(
  url: string,
  out: string,
  runId: string,
  itemEnv: Record<string, string> = env,
): ReturnType<typeof startCli> {
  return startCli(
    ['worker', JOB, '--store', url, '--run', runId, '--out', out, '--workers', '1', ...TTL, '--json'],
    itemEnv,
  )
}

async function holdsClaim(url: string, runId: string, pid: number): Promise<true | undefined> {
  const rows = await sql(url, 'SELECT 1 FROM longhaul.claims WHERE run_id = $1 AND worker = $2 AND expires_at > 0', [
    runId,
    `${me}:${pid}`,
  ])
  return rows.length > 0 ? true : undefined
}

async function committed(url: string, runId: string): Promise<number> {
  const [row] = await sql<{ n: number }>(
    url,
    'SELECT COALESCE(SUM(stop - start), 0)::int AS n FROM longhaul.ranges WHERE run_id = $1',
    [runId],
  )
  return row!.n
}

async function statusJson(...dirs: string[]): Promise<StatusJson[]> {
  const result = await runCliHere(['status', ...dirs, '--json'])
  expect(result.code, result.stderr).toBe(0)
  return JSON.parse(result.stdout) as StatusJson[]
}

/** `longhaul ARGS` run in `cwd` (status with no folder looks at ./runs). */
async function runCliIn(
  cwd: string,
  args: readonly string[],
): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [BIN, ...args], {
      cwd,
      env: { ...process.env, NO_COLOR: '1' },
    })
    return { code: 0, stdout, stderr }
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string }
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr }
  }
}

describe('status of a run shared through PostgreSQL', () => {
  it("shared-status-events: status of a running shared run reads its journal in PostgreSQL and lists the joined workers' events", async () => {
    const url = await server().createDatabase()
    const out = join(root, 'runs', 'joined')
    // Items slow enough that the run outlives two status calls on a busy machine; Ctrl-C ends it anyway.
    const slow = { ITEM_MS: '20' }
    const owner = await startOwner(url, out, slow)
    const workers = [startWorker(url, out, owner.runId, slow), startWorker(url, out, owner.runId, slow)]
    await waitFor('both workers to join', async () => {
      const rows = await sql(url, `SELECT 1 FROM longhaul.events WHERE run_id = $1 AND type = 'joined'`, [owner.runId])
      return rows.length === 2 ? true : undefined
    })
    const result = await runCliHere(['status', out])
    expect(result.code, result.stderr).toBe(0)
    const text = result.stdout
    expect(text.split('\n')[1]).toMatch(/^ {2}RUNNING$/)
    expect(text).toMatch(
      new RegExp(
        `Journal: +postgres://postgres@127\\.0\\.0\\.1:\\d+/test_\\d+ \\(run ${owner.runId}\\): the owner holds its lease`,
      ),
    )
    expect(text).toMatch(/Recent events:[\s\S]*started/)
    for (const worker of workers)
      expect(text).toMatch(new RegExp(`joined \\(committed \\d+, .*worker ${me}:${worker.child.pid}\\)`))
    const [json] = await statusJson(out)
    expect(json).toMatchObject({
      live: true,
      ownerGone: false,
      state: 'running',
      total: TOTAL,
      shared: { runId: owner.runId, ownerAlive: true },
    })
    expect(json!.shared!.store).not.toMatch(/:[^@/]*@/)
    // Done looking: Ctrl-C stops every process, its work committed.
    for (const process of [...workers, owner]) process.child.kill('SIGINT')
    for (const result of await Promise.all([owner.done, ...workers.map((w) => w.done)]))
      expect(result.code, result.stderr).toBe(130)
  })

  it('shared-status-live-while-workers-work: after SIGKILL of the owner with a worker still going, status is live (not "run the same command to resume"), its count follows the journal, and it ends COMPLETE', async () => {
    const url = await server().createDatabase()
    const out = join(root, 'runs', 'orphaned')
    // Items take 3 ms until the test has looked; then the worker finishes the run at full speed. While `hold` exists, no
    // item finishes: the test looks at the run while the worker is surely in the middle of a range (between two ranges it
    // holds no claim for a moment).
    const paced = pace(3)
    const hold = join(tempDir(), 'hold')
    writeFileSync(hold, '')
    const itemEnv = { ...paced.env, HOLD_FILE: hold }
    const owner = await startOwner(url, out, itemEnv)
    const worker = startWorker(url, out, owner.runId, itemEnv)
    await waitFor('the worker to hold a claim', () => holdsClaim(url, owner.runId, worker.child.pid!))
    await waitFor('the owner to hold a claim', () => holdsClaim(url, owner.runId, owner.child.pid!))
    owner.child.kill('SIGKILL')
    expect((await owner.done).signal).toBe('SIGKILL')
    const stale = JSON.parse(readFileSync(join(out, 'progress.json'), 'utf8')) as { state: string; done: number }
    expect(stale.state).toBe('running')

    // The owner's claims have not expired yet, and the worker holds its own: live, said plainly.
    const [first] = await statusJson(out)
    expect(first).toMatchObject({
      live: true,
      ownerGone: false,
      state: 'running',
      done: await committed(url, owner.runId),
      shared: { ownerAlive: false, workers: [`${me}:${worker.child.pid}`] },
    })
    expect(first!.summary).toBe(
      `RUNNING — the owner (pid ${owner.child.pid} on ${me}) is gone; 1 worker(s) still working`,
    )
    // Past the owner's TTL, the worker alone keeps the run live.
    await waitFor('the owner to hold no live claim', async () =>
      (
        await sql(url, 'SELECT 1 FROM longhaul.claims WHERE run_id = $1 AND worker = $2 AND expires_at > $3', [
          owner.runId,
          `${me}:${owner.child.pid}`,
          Date.now(),
        ])
      ).length === 0
        ? true
        : undefined,
    )
    const text = (await runCliHere(['status', out])).stdout
    expect(text.split('\n')[1]).toBe(
      `  RUNNING — the owner (pid ${owner.child.pid} on ${me}) is gone; 1 worker(s) still working`,
    )
    expect(text).not.toMatch(/run the same command to resume/)
    expect(text).toMatch(/Journal: .*the owner holds no live lease; 1 worker\(s\) holding claims/)

    // progress.json stays where the owner left it; the count follows the journal.
    rmSync(hold)
    const later = await waitFor('the worker to commit past the stale progress.json', async () => {
      const [status] = await statusJson(out)
      return status!.done > stale.done && status!.done < TOTAL ? status : undefined
    })
    expect(later.state).toBe('running')

    paced.release()
    expect((await worker.done).code).toBe(0)
    const [ended] = await statusJson(out)
    expect(ended).toMatchObject({ live: false, ownerGone: false, state: 'complete', done: TOTAL })
    expect(ended!.summary).toBe("COMPLETE (from the journal; the owner's progress.json still says running)")
  })

  it('shared-status-not-running: when the owner and every worker are gone, status says not running and how to resume', async () => {
    const url = await server().createDatabase()
    const out = join(root, 'runs', 'abandoned')
    const owner = await startOwner(url, out)
    await waitFor('the owner to hold a claim', () => holdsClaim(url, owner.runId, owner.child.pid!))
    owner.child.kill('SIGKILL')
    await owner.done
    // On this host a dead process counts as gone at once, whatever its lease says.
    const [status] = await statusJson(out)
    expect(status).toMatchObject({
      live: false,
      ownerGone: true,
      state: 'running',
      shared: { ownerAlive: false, workers: [] },
    })
    expect(status!.summary).toMatch(
      /^not running — last heartbeat .* ago \(owner pid \d+ on .*\), no process holds the owner lease or a claim; run the same command to resume$/,
    )
  })
})

describe('listing shared runs, and a database that does not answer', () => {
  it('shared-status-listed: a folder with .longhaul/store.json is a run for `status` under ./runs and for `serve`, with or without progress.json, and an unreachable database is named while the other runs still show', async () => {
    const url = await server().createDatabase()
    const project = join(root, 'project')
    const out = join(project, 'runs', 'shared')
    // Items at full speed: only the finished run's folder matters here.
    const owner = await startOwner(url, out, { ITEM_MS: '0' })
    const worker = startWorker(url, out, owner.runId, { ITEM_MS: '0' })
    for (const result of [await owner.done, await worker.done]) expect(result.code, result.stderr).toBe(0)
    // Only the link tells this folder is a run: no progress.json, no SQLite journal.
    rmSync(join(out, 'progress.json'))
    rmSync(join(out, 'PROGRESS.txt'))
    // A run whose database nobody answers at, beside it.
    const port = await freePort()
    const unreachable = join(project, 'runs', 'unreachable')
    mkdirSync(join(unreachable, '.longhaul'), { recursive: true })
    writeFileSync(
      join(unreachable, '.longhaul', 'store.json'),
      JSON.stringify({ store: `postgres://postgres@127.0.0.1:${port}/jobs`, runId: owner.runId }),
    )

    const listed = await runCliIn(project, ['status'])
    expect(listed.code).toBe(1)
    expect(listed.stdout).toMatch(/runs\/shared\n {2}COMPLETE \(from the journal: this run has no progress\.json\)\n/)
    expect(listed.stdout).toMatch(/Completed: +4,000 \/ 4,000 \(100\.0%\)/)
    expect(listed.stdout).toMatch(/Recent events:[\s\S]*  started[\s\S]*  complete/)
    expect(listed.stdout).toMatch(new RegExp(`Recent events:[\\s\\S]*  joined .*worker ${me}:${worker.child.pid}\\)`))
    expect(listed.stdout).toMatch(
      new RegExp(
        `runs/unreachable\\n {2}UNREADABLE — cannot reach PostgreSQL at 127\\.0\\.0\\.1:${port} .*Check that the server is running`,
      ),
    )

    const index = new RootIndex(project)
    onTestFinished(() => index.close())
    const app = dashboardApp({ root: project, index })
    const list = (await (await app.request('/api/runs')).json()) as {
      runs: {
        id: string
        dir: string
        live: boolean
        summary: string
        snapshot: { done: number; state: string }
        shared: unknown
        unreadable?: boolean
        problem?: string
      }[]
    }
    expect(list.runs).toEqual([
      expect.objectContaining({
        id: owner.runId,
        dir: join('runs', 'shared'),
        live: false,
        snapshot: expect.objectContaining({ state: 'complete', done: TOTAL }),
        shared: expect.objectContaining({ runId: owner.runId }),
      }),
      // The run whose database does not answer is listed too, saying so (not left out).
      expect.objectContaining({
        dir: join('runs', 'unreachable'),
        unreadable: true,
        problem: expect.stringMatching(/cannot reach PostgreSQL/),
      }),
    ])
    const detail = (await (await app.request(`/api/runs/${owner.runId}`)).json()) as {
      events: { type: string; detail: { worker?: string } }[]
      checkpoints: { start: number; end: number }[]
    }
    expect(detail.events.filter((e) => e.type === 'joined').map((e) => e.detail.worker)).toEqual([
      `${me}:${worker.child.pid}`,
    ])
    expect(detail.checkpoints.reduce((sum, c) => sum + c.end - c.start, 0)).toBe(TOTAL)
  })
})
