/**
 * Many async items in flight per process (`concurrency`): their results are
 * written in index order within each range, so the invariants hold unchanged
 * at any concurrency. Real runs of the CLI: a process of its own where the
 * test kills it with SIGKILL, the CLI's main in this process otherwise.
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { expect, it } from 'vitest'
import { verifyRun } from '../../src/index.ts'
import {
  expectVerifiedComplete,
  fixture,
  killedAfterEach,
  ROOT,
  referenceDigest,
  runCliHere,
  startCli,
  tempDir,
  waitFor,
} from '../support/cli.ts'

const waiting = fixture('waiting.ts')
const TOTAL = 600
const started = killedAfterEach()

const runArgs = (out: string, concurrency: number, ...more: string[]): string[] => [
  'run',
  waiting,
  '--out',
  out,
  '--total',
  String(TOTAL),
  '--workers',
  '2',
  '--concurrency',
  String(concurrency),
  '--json',
  ...more,
]

const progressOf = (out: string): { done: number; workers: number; concurrency?: number } =>
  JSON.parse(readFileSync(join(out, 'progress.json'), 'utf8'))

it('determinism: the same digest at concurrency 1, 8 and 256, though items finish out of index order', async () => {
  const root = tempDir()
  const digests: string[] = []
  for (const concurrency of [1, 8, 256]) {
    const out = join(root, `c${concurrency}`)
    const completed = join(root, `completed-${concurrency}.txt`)
    const result = await runCliHere(runArgs(out, concurrency), { COMPLETED: completed })
    expect(result.code, result.stderr).toBe(0)
    digests.push(JSON.parse(result.stdout).digest)
    const order = readFileSync(completed, 'utf8').trim().split('\n').map(Number)
    expect(order).toHaveLength(TOTAL)
    const sorted = order.every((index, i) => i === 0 || index > order[i - 1]!)
    // One at a time they finish in order (one thread: the concurrency is per process); many at a time they do not.
    expect(sorted).toBe(concurrency === 1)
    // The concurrency is shown beside the workers; one item per thread needs no mention.
    const progress = progressOf(out)
    if (concurrency === 1) expect(progress).toMatchObject({ workers: 1 })
    else expect(progress).toMatchObject({ workers: 2, concurrency })
  }
  expect(digests[0]).toMatch(/^[0-9a-f]{64}$/)
  expect(digests).toEqual([digests[0], digests[0], digests[0]])
  // The files hold the items in index order, as the journal's hashes say.
  for (const concurrency of [8, 256]) await expectVerifiedComplete(join(root, `c${concurrency}`), TOTAL, digests[0]!)
})

it('no-loss, no-duplicates under SIGKILL with many calls in flight: killed at concurrency 64, resumed at 5, every item once', async () => {
  const root = tempDir()
  // The digest every run of these items ends with, at any concurrency (the test above): made in this process.
  const reference = await referenceDigest(waiting, TOTAL, join(root, 'reference'))
  const out = join(root, 'killed')
  // Items 20× slower (the same bytes), commits every 0.2 s: the kill lands with ranges committed and many calls in flight.
  const env = { SLOW: '20' }
  const run = startCli(runArgs(out, 64, '--checkpoint-every', '0.2'), env)
  started.push(run.child)
  await waitFor('a committed range', () => {
    try {
      const done = progressOf(out).done
      return done > 0 ? done : undefined
    } catch {
      return undefined
    }
  })
  run.child.kill('SIGKILL')
  const killed = await run.done
  expect(killed.signal).toBe('SIGKILL')
  const before = await verifyRun(out)
  expect(before.duplicates + before.corrupt).toBe(0)
  expect(before.items).toBeGreaterThan(0)
  expect(before.items).toBeLessThan(TOTAL)

  const resumed = await runCliHere(runArgs(out, 5))
  expect(resumed.code, resumed.stderr).toBe(0)
  const summary = JSON.parse(resumed.stdout)
  expect(summary.resumed).toBe(true)
  expect(summary.committedThisSession).toBe(TOTAL - before.items)
  await expectVerifiedComplete(out, TOTAL, reference)
})

it('a failing async item at concurrency 8 names its index, and the run exits 1, as at concurrency 1', async () => {
  const root = tempDir()
  const messages: string[] = []
  for (const concurrency of [1, 8]) {
    const out = join(root, `c${concurrency}`)
    const result = await runCliHere(runArgs(out, concurrency), { FAIL_AT: '70' })
    expect(result.code).toBe(1)
    const line = result.stderr.split('\n').find((l) => l.includes('item 70 failed'))
    expect(line, result.stderr).toContain('item 70 failed after 2 attempts: cannot make item 70')
    messages.push(line!)
    // What was committed stays, intact and once each.
    const report = await verifyRun(out)
    expect(report.duplicates + report.corrupt).toBe(0)
  }
  expect(messages[1]).toBe(messages[0])
})

it('--concurrency is refused, saying why, for a loop job and a Python job with a plain item (their steps and items run one at a time)', async () => {
  const root = tempDir()
  const cases = [
    [join(ROOT, 'test/fixtures/loops/descent.ts'), 'is a loop job: ', '--concurrency does not apply'],
    [join(ROOT, 'test/fixtures/python/squares.py'), '--concurrency needs an `async def item`', 'use --workers'],
  ] as const
  for (const [job, why, what] of cases) {
    const result = await runCliHere(['run', job, '--out', join(root, 'out'), '--total', '10', '--concurrency', '8'])
    expect(result.code, result.stderr).toBe(2)
    expect(result.stderr).toContain(why)
    expect(result.stderr).toContain(what)
  }
})
