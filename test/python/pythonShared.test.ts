/**
 * A Python job's run shared through a real PostgreSQL journal: the owner (`run --store`) and a process that joins it
 * (`worker gen.py --store … --run ID`) both make items in Python worker processes, and the run ends with the digest
 * of a single-process SQLite run (no-loss, no-duplicates, determinism).
 */
import { join } from 'node:path'
import { expect, it } from 'vitest'
import { runMapJob } from '../../src/index.ts'
import { expectVerifiedComplete, killedAfterEach, ROOT, startCli, tempDir, waitFor } from '../support/cli.ts'
import { usePostgres } from '../support/postgres.ts'

const server = usePostgres()
const JOB = join(ROOT, 'test/fixtures/python/squares.py')
const started = killedAfterEach()
const TOTAL = 600

it('no-loss, no-duplicates, determinism: a Python job shared by its owner and a joining worker ends with the single-process digest', async () => {
  const root = tempDir()
  const reference = await runMapJob({ jobPath: JOB, outDir: join(root, 'reference'), total: TOTAL, workers: 1 })
  const url = await server().createDatabase()
  const out = join(root, 'shared')
  const env = { ITEM_MS: '10' }
  const common = ['--store', url, '--out', out, '--workers', '1', '--lease-ttl', '2', '--json']
  const owner = startCli(['run', JOB, '--total', String(TOTAL), ...common], env)
  started.push(owner.child)
  let stderr = ''
  owner.child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
  const runId = await waitFor('the owner to record the run', () => {
    if (owner.child.exitCode !== null) throw new Error(`the owner exited early: ${stderr}`)
    return /--run (\S+)/.exec(stderr)?.[1]
  })
  const worker = startCli(['worker', JOB, '--run', runId, ...common], env)
  started.push(worker.child)
  const [ownerDone, workerDone] = await Promise.all([owner.done, worker.done])
  expect(ownerDone.code, ownerDone.stderr).toBe(0)
  expect(workerDone.code, workerDone.stderr).toBe(0)
  // Both made items.
  expect(JSON.parse(workerDone.stdout).committedThisSession).toBeGreaterThan(0)
  expect(JSON.parse(ownerDone.stdout).committedThisSession).toBeGreaterThan(0)
  await expectVerifiedComplete(out, TOTAL, reference.digest!)
})
