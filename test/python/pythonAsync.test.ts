/**
 * Python jobs whose `item` is an `async def`: up to `--concurrency` items in flight per process, on each worker
 * process's asyncio loop, written in index order. Real coordinators and python3 worker processes; items wait a
 * seeded random time, so they finish out of index order.
 */
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { expect, it } from 'vitest'
import { verifyRun } from '../../src/index.ts'
import {
  expectVerifiedComplete,
  killedAfterEach,
  ROOT,
  referenceDigest,
  runCliHere,
  startCli,
  tempDir,
  waitFor,
} from '../support/cli.ts'

const FIXTURES = join(ROOT, 'test/fixtures/python')
const WAITS = join(FIXTURES, 'waits.py')
const started = killedAfterEach()

/** The records of the run's shards, in file order. */
function recordsIn(dir: string): { i: number; limited: number }[] {
  const data = join(dir, 'data')
  return readdirSync(data)
    .filter((name) => name.endsWith('.jsonl'))
    .sort()
    .flatMap((name) =>
      readFileSync(join(data, name), 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((line) => JSON.parse(line) as { i: number; limited: number }),
    )
}

it('determinism: an async Python job gives the same digest at concurrency 1, 8 and 64, with items finishing out of order', async () => {
  const root = tempDir()
  const digests = []
  for (const concurrency of [1, 8, 64]) {
    const out = join(root, `c${concurrency}`)
    const result = await runCliHere(['run', WAITS, '--out', out, '--concurrency', String(concurrency), '--json'], {
      MAX_MS: '20',
    })
    expect(result.code, result.stderr).toBe(0)
    expect(JSON.parse(result.stdout)).toMatchObject({ state: 'complete', committed: 300 })
    expect(recordsIn(out).map((record) => record.i)).toEqual(Array.from({ length: 300 }, (_, i) => i))
    digests.push(JSON.parse(result.stdout).digest as string)
  }
  expect(new Set(digests).size).toBe(1)
  expect(digests[0]).toBe(await referenceDigest(WAITS, 300, join(root, 'reference')))
})

it('no-loss, no-duplicates: an async Python run SIGKILLed with 32 items in flight resumes (at another concurrency) to every item once and the reference digest', async () => {
  const root = tempDir()
  const total = 1000
  const out = join(root, 'killed')
  const args = ['run', WAITS, '--out', out, '--total', String(total), '--json']
  const { child, done } = startCli([...args, '--concurrency', '32', '--checkpoint-every', '1'], { MAX_MS: '200' })
  started.push(child)
  await waitFor('the first commit', async () => {
    const report = await verifyRun(out).catch(() => undefined)
    return report && report.items > 0 ? report : undefined
  })
  child.kill('SIGKILL')
  expect((await done).signal).toBe('SIGKILL')
  expect((await verifyRun(out)).items).toBeLessThan(total)

  const resumed = await runCliHere([...args, '--concurrency', '8'], { MAX_MS: '5' })
  expect(resumed.code, resumed.stderr).toBe(0)
  expect(JSON.parse(resumed.stdout)).toMatchObject({ state: 'complete', resumed: true })
  await expectVerifiedComplete(out, total, await referenceDigest(WAITS, total, join(root, 'reference')))
  expect(recordsIn(out).map((record) => record.i)).toEqual(Array.from({ length: total }, (_, i) => i))
})

it('interrupt: SIGINT stops an async Python run with items in flight (exit 130, what finished committed), and the same command completes it', async () => {
  const root = tempDir()
  const out = join(root, 'out')
  const args = ['run', WAITS, '--out', out, '--total', '1000', '--concurrency', '32', '--json']
  const { child, done } = startCli([...args, '--checkpoint-every', '1'], { MAX_MS: '200' })
  started.push(child)
  await waitFor('the first commit', async () => {
    const report = await verifyRun(out).catch(() => undefined)
    return report && report.items > 0 ? report : undefined
  })
  child.kill('SIGINT')
  const stopped = await done
  expect(stopped.code, stopped.stderr).toBe(130)
  const kept = JSON.parse(stopped.stdout) as { state: string; committed: number }
  expect(kept.state).toBe('interrupted')
  expect((await verifyRun(out)).items).toBe(kept.committed)

  // The same command, in this process (no process is at stake any more).
  const resumed = await runCliHere(args)
  expect(resumed.code, resumed.stderr).toBe(0)
  expect(JSON.parse(resumed.stdout)).toMatchObject({ state: 'complete', committedThisSession: 1000 - kept.committed })
})

it('a Python worker process that dies while making two ranges at once is replaced, and both ranges are made again: every item once', async () => {
  const dir = tempDir()
  const out = join(dir, 'out')
  const job = join(FIXTURES, 'dies_once_async.py')
  const result = await runCliHere(['run', job, '--out', out, '--checkpoint-every', '0.3', '--json'], {
    DIE_AT: '250',
    MARK: join(dir, 'died'),
  })
  expect(result.code, result.stderr).toBe(0)
  expect(readFileSync(join(dir, 'died'), 'utf8')).toBe('') // the worker did die once
  expect(await verifyRun(out)).toMatchObject({ complete: true, items: 600, missing: 0, duplicates: 0, corrupt: 0 })
  expect(recordsIn(out).map((record) => record.i)).toEqual(Array.from({ length: 600 }, (_, i) => i))
})

it('a failing async item fails the run naming it (exit 1): what finished is committed once each, the failed item is not, and the same command then makes the rest, every item once', async () => {
  // Not "every item before it": a process has two ranges in flight, and the other's unfinished items (111 here, a
  // slow one) are left to the resume with the rest (docs/services.md).
  const root = tempDir()
  const out = join(root, 'out')
  const args = ['run', WAITS, '--out', out, '--total', '200', '--concurrency', '16', '--json']
  const failed = await runCliHere(args, { MAX_MS: '20', FAIL_AT: '150' })
  expect(failed.code).toBe(1)
  expect(failed.stderr).toContain('item 150 failed after 1 attempt: ValueError')
  expect(await verifyRun(out)).toMatchObject({ complete: false, duplicates: 0, corrupt: 0 })
  const made = recordsIn(out).map((record) => record.i)
  expect(new Set(made).size).toBe(made.length)
  expect(made).not.toContain(150)

  const resumed = await runCliHere(args, { MAX_MS: '20' })
  expect(resumed.code, resumed.stderr).toBe(0)
  await expectVerifiedComplete(out, 200, await referenceDigest(WAITS, 200, join(root, 'reference')))
})

it('rate limits: longhaul.RateLimited makes the item be called again after the wait, without using up its retries (retries=0)', async () => {
  const out = join(tempDir(), 'out')
  const result = await runCliHere(['run', WAITS, '--out', out, '--total', '100', '--concurrency', '8', '--json'], {
    LIMITED_AT: '42',
    LIMITED_TIMES: '2',
  })
  expect(result.code, result.stderr).toBe(0)
  expect(recordsIn(out)[42]).toMatchObject({ i: 42, limited: 2 })
})

it('a plain (not async) Python item with --concurrency is refused before the run starts (exit 2), saying to use --workers', async () => {
  const out = join(tempDir(), 'out')
  const refused = await runCliHere(['run', join(FIXTURES, 'squares.py'), '--out', out, '--concurrency', '4'])
  expect(refused.code).toBe(2)
  expect(refused.stderr).toContain('--concurrency needs an `async def item`')
  expect(refused.stderr).toContain('--workers')
})
