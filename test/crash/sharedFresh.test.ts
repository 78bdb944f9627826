/**
 * `run --fresh --store`: a shared run's folder is set aside (moved, never
 * deleted; the run stays in the database, marked interrupted) only once
 * nobody works on it (one-owner). Real PostgreSQL, a real owner SIGKILLed and
 * a real worker; the `--fresh` commands run the CLI's main in this process.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { hostname } from 'node:os'
import { basename, dirname, join } from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'
import { fixture, pace, referenceDigest, runCliHere, startCli, tempDir, waitFor } from '../support/cli.ts'
import { sql, usePostgres } from '../support/postgres.ts'

const server = usePostgres()
const TOTAL = 600
const JOB = fixture('squares.ts')
const root = tempDir()
let expected: string

beforeAll(async () => {
  expected = await referenceDigest(JOB, TOTAL, join(root, 'reference'))
}, 120_000)

describe('--fresh on a run shared through PostgreSQL', () => {
  it('one-owner: --fresh is refused while the run is unfinished, even with its owner dead (a worker still goes on in that folder); once the run is complete, the folder is moved aside, the old run stays in the database, and a new run starts', async () => {
    const url = await server().createDatabase()
    const out = join(root, 'shared')
    const args = [
      'run',
      JOB,
      '--out',
      out,
      '--total',
      String(TOTAL),
      '--workers',
      '1',
      '--store',
      url,
      '--lease-ttl',
      '2',
      '--json',
    ]
    // Items take 20 ms until the refusal has been seen; then the worker finishes the run at full speed.
    const paced = pace(20)
    const owner = startCli(args, paced.env)
    let stderr = ''
    owner.child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
    const oldRun = await waitFor('the run to be recorded', () => /--run (\S+)/.exec(stderr)?.[1])
    const worker = startCli(
      ['worker', JOB, '--store', url, '--run', oldRun, '--out', out, '--workers', '1', '--lease-ttl', '2', '--json'],
      paced.env,
    )
    const name = `${hostname()}:${worker.child.pid}`
    await waitFor('the worker to hold a claim', async () =>
      (
        await sql(url, 'SELECT 1 FROM longhaul.claims WHERE run_id = $1 AND worker = $2 AND expires_at > 0', [
          oldRun,
          name,
        ])
      ).length
        ? true
        : undefined,
    )
    owner.child.kill('SIGKILL')
    expect((await owner.done).signal).toBe('SIGKILL')

    // The owner is dead (this host, so its lease is free at once), but the run is not finished: its worker goes on in this folder.
    const refused = await runCliHere([...args, '--fresh'])
    expect(refused.code).toBe(2)
    expect(refused.stderr).toMatch(/which is not complete \(\d+ of 600 items\)/)
    expect(JSON.parse(readFileSync(join(out, '.longhaul', 'store.json'), 'utf8')).runId).toBe(oldRun)

    // The worker completes the run on its own; then the folder can be set aside.
    paced.release()
    expect((await worker.done).code).toBe(0)
    const fresh = await runCliHere([...args, '--fresh'])
    expect(fresh.code, fresh.stderr).toBe(0)
    const summary = JSON.parse(fresh.stdout) as { runId: string; digest: string; resumed: boolean }
    expect(summary).toMatchObject({ digest: expected, resumed: false })
    expect(summary.runId).not.toBe(oldRun)
    // The old folder, moved aside whole, still names the old run; the database still holds it, complete.
    const aside = readdirSync(dirname(out)).filter((entry) => entry.startsWith(`${basename(out)}.before-`))
    expect(aside).toHaveLength(1)
    expect(JSON.parse(readFileSync(join(dirname(out), aside[0]!, '.longhaul', 'store.json'), 'utf8')).runId).toBe(
      oldRun,
    )
    const [old] = await sql<{ state: string }>(url, 'SELECT state FROM longhaul.runs WHERE run_id = $1', [oldRun])
    expect(old!.state).toBe('complete')
    expect(
      await sql(url, `SELECT 1 FROM longhaul.events WHERE run_id = $1 AND type = 'set-aside'`, [oldRun]),
    ).toHaveLength(1)
  })

  it('--fresh on a run whose shards are in a bucket is refused (exit 2): a bucket has no folder to move aside', async () => {
    const url = await server().createDatabase()
    const local = join(root, 'bucket-local')
    // The link alone decides: no bucket is reached before the refusal.
    const { mkdirSync, writeFileSync } = await import('node:fs')
    mkdirSync(join(local, '.longhaul'), { recursive: true })
    writeFileSync(
      join(local, '.longhaul', 'store.json'),
      JSON.stringify({ store: url, runId: 'r1', shards: 's3://datasets/old' }),
    )
    const result = await runCliHere([
      'run',
      JOB,
      '--out',
      's3://datasets/old',
      '--local',
      local,
      '--total',
      '10',
      '--store',
      url,
      '--fresh',
    ])
    expect(result.code).toBe(2)
    expect(result.stderr).toMatch(/a bucket has no folder to move aside/)
    expect(existsSync(join(local, '.longhaul', 'store.json'))).toBe(true)
  })
})
