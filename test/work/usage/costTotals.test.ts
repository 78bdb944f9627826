/**
 * Usage and cost (`ctx.usage`) are counted exactly once, with the commit of the items that reported them: a run
 * SIGKILLed at seeded moments and resumed until it completes ends with totals, in the journal and in progress.json,
 * equal to the sum over its items computed from the output (each record carries what its item reported).
 */
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import prand from 'pure-rand'
import { expect, it } from 'vitest'
import { SqliteStore } from '../../../src/journal/sqlite/sqliteStore.ts'
import { fixture, killedAfterEach, runCli, startCli, tempDir, waitFor } from '../../support/cli.ts'

const TOTAL = 400
const KILLS = 3
const SEED = 20261205
const started = killedAfterEach()

/** Sums over the records of the run's output: what the items said they used. */
function sumOfRecords(out: string): { items: number; tokens: number; usd: number } {
  const sum = { items: 0, tokens: 0, usd: 0 }
  for (const name of readdirSync(join(out, 'data')).filter((n) => n.endsWith('.jsonl')))
    for (const line of readFileSync(join(out, 'data', name), 'utf8')
      .split('\n')
      .filter(Boolean)) {
      const record = JSON.parse(line) as { tokens: number; usd: number }
      sum.items++
      sum.tokens += record.tokens
      sum.usd += record.usd
    }
  return sum
}

it("cost totals equal the sum of the items' reports after crashes (SIGKILL mid-run, resumed)", async () => {
  const out = join(tempDir(), 'paid')
  const args = ['run', fixture('paid.ts'), '--out', out, '--checkpoint-every', '0.2', '--skip-preflight', '--json']
  const env = { ITEM_MS: '10', FAIL_FIRST: '1' }
  const rng = prand.xoroshiro128plus(SEED)
  const done = (): number => {
    try {
      return (JSON.parse(readFileSync(join(out, 'progress.json'), 'utf8')) as { done: number }).done
    } catch {
      return 0
    }
  }
  for (let kills = 0; kills < KILLS; kills++) {
    const before = done()
    const life = startCli(args, env)
    started.push(life.child)
    // Killed once this life has committed something, at a seeded moment after: mid-range, items in flight.
    await waitFor('a commit', () => (done() > before ? true : undefined))
    await sleep(prand.unsafeUniformIntDistribution(0, 400, rng))
    life.child.kill('SIGKILL')
    expect((await life.done).signal).toBe('SIGKILL')
  }
  const final = await runCli(args, env)
  expect(final.code, final.stderr).toBe(0)

  const records = sumOfRecords(out)
  expect(records.items).toBe(TOTAL)
  const store = SqliteStore.open(join(out, '.longhaul', 'journal.sqlite'), { readonly: true })
  const totals = await store.usageTotals().finally(() => store.close())
  // Counters of whole numbers add up exactly; dollars to within the rounding of a different order of addition.
  expect(totals.usage.tokens).toBe(records.tokens)
  expect(totals.usage.usd).toBeCloseTo(records.usd, 9)
  const progress = JSON.parse(readFileSync(join(out, 'progress.json'), 'utf8'))
  expect(progress.usage.tokens).toBe(records.tokens)
  expect(progress.usage.usd).toBeCloseTo(records.usd, 9)
  expect(progress.usagePerItem.tokens).toBeCloseTo(records.tokens / TOTAL, 9)
  // Every seventh item's first attempt in a process reported 5 tokens and threw: counted apart, never in the total.
  expect(totals.failedUsage.tokens).toBeGreaterThanOrEqual(5 * Math.ceil(TOTAL / 7))
  expect((totals.failedUsage.tokens ?? 1) % 5).toBe(0)
  expect(readFileSync(join(out, 'PROGRESS.txt'), 'utf8')).toMatch(/^Usage: +[\d,]+ tokens, \$[\d.]+ \(/m)
})
