/**
 * Real crashes: the CLI runs as a child process and is SIGKILLed at seeded
 * random moments, then resumed with the same command, until it completes.
 * The output must then hold every item once, intact, with the digest of a
 * run that was never interrupted (no-loss, no-duplicates, determinism,
 * atomic-commit).
 */
import { join } from 'node:path'
import prand from 'pure-rand'
import { expect, it } from 'vitest'
import { UsageError, verifyRun } from '../../src/index.ts'
import { fixture, LONG, referenceDigest, runCliHere, startCli, tempDir } from '../support/cli.ts'

// Four under npm test (each resumed by a new process); the long run repeats it fifty times on a larger run.
const KILLS = LONG ? 50 : 4
const TOTAL = LONG ? 20_000 : 3_000
const SEED = 20261121
const env = { ITEM_MS: '1' }

it(`no-loss, no-duplicates, determinism: ${KILLS} SIGKILLs at seeded random moments, each resumed, end in the uninterrupted digest`, async () => {
  const root = tempDir()
  // Made in this process, at full speed: an item's bytes do not depend on its pace.
  const expected = await referenceDigest(fixture('squares.ts'), TOTAL, join(root, 'reference'))

  const out = join(root, 'killed')
  const args = ['run', fixture('squares.ts'), '--out', out, '--total', String(TOTAL), '--workers', '2', '--json']
  const rng = prand.xoroshiro128plus(SEED)
  let kills = 0
  let committedBefore = 0
  while (kills < KILLS) {
    const { child, done } = startCli(args, env)
    const delay = prand.unsafeUniformIntDistribution(150, 1_200, rng)
    const timer = setTimeout(() => child.kill('SIGKILL'), delay)
    const result = await done
    clearTimeout(timer)
    if (result.signal !== 'SIGKILL') {
      // Finished before the kill landed: that is allowed only with all items committed.
      expect(result.code).toBe(0)
      break
    }
    kills++
    // A kill that lands before the run recorded itself leaves nothing to check yet.
    const report = await verifyRun(out).catch((error: unknown) => {
      if (error instanceof UsageError) return undefined
      throw error
    })
    if (!report) continue
    // Whatever the instant of the kill, what is recorded is intact and never twice.
    expect(report.duplicates).toBe(0)
    expect(report.corrupt).toBe(0)
    expect(report.items).toBeGreaterThanOrEqual(committedBefore)
    committedBefore = report.items
  }
  expect(kills).toBeGreaterThanOrEqual(Math.min(KILLS, 4))

  // The last resume, once the kills are done, in this process and at full speed: what it resumes from is what they left.
  const final = await runCliHere(args)
  expect(final.code).toBe(0)
  expect(JSON.parse(final.stdout).digest).toBe(expected)
  const report = await verifyRun(out)
  expect(report).toMatchObject({
    complete: true,
    items: TOTAL,
    missing: 0,
    duplicates: 0,
    corrupt: 0,
    stray: [],
    digest: expected,
  })
})
