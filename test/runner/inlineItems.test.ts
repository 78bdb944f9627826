/**
 * Items whose function returns a value are made one after another in the worker thread; from the first that returns
 * a promise or throws, items go on in flight (worker.ts, makeInline). Whatever the mix, the output and the digest
 * are those of items made one at a time, and an item that throws is called once more per retry, never again. What
 * each call reports with ctx.usage is counted once, made inline or in flight.
 */
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { expect, it } from 'vitest'
import { runMapJob, verifyRun } from '../../src/index.ts'
import { SqliteStore } from '../../src/journal/sqlite/sqliteStore.ts'
import { fixture, tempDir } from '../support/cli.ts'

it('determinism, no-duplicates: values, promises and first-call throws in one job give the one-at-a-time output and digest, each throw retried once, the usage of each call counted once', async () => {
  const root = tempDir()
  const digests: string[] = []
  for (const [workers, concurrency] of [
    [1, 1],
    [2, 16],
  ] as const) {
    const out = join(root, `w${workers}c${concurrency}`)
    process.env.CALLS = join(root, `calls-${workers}-${concurrency}.txt`)
    try {
      const summary = await runMapJob({ jobPath: fixture('mixed.ts'), outDir: out, workers, concurrency })
      expect(summary).toMatchObject({ state: 'complete', committed: 300 })
    } finally {
      delete process.env.CALLS
    }
    const verified = await verifyRun(out)
    expect(verified).toMatchObject({ complete: true, items: 300, missing: 0, duplicates: 0, corrupt: 0 })
    digests.push(verified.digest ?? '')
    const shards = readdirSync(join(out, 'data'))
      .filter((name) => name.endsWith('.jsonl'))
      .sort()
    const records = shards.flatMap((name) =>
      readFileSync(join(out, 'data', name), 'utf8')
        .trim()
        .split('\n'),
    )
    expect(records).toEqual(Array.from({ length: 300 }, (_, i) => JSON.stringify({ i, square: i * i })))
    const calls = readFileSync(join(root, `calls-${workers}-${concurrency}.txt`), 'utf8')
      .trim()
      .split('\n')
      .map(Number)
    const perItem = new Map<number, number>()
    for (const index of calls) perItem.set(index, (perItem.get(index) ?? 0) + 1)
    for (let index = 0; index < 300; index++)
      expect([index, perItem.get(index)]).toEqual([index, index % 45 === 4 ? 2 : 1])
    // Every item reported one call as it was made; each first call that threw (items 4, 49, … 274), one more as failed.
    const store = SqliteStore.open(join(out, '.longhaul', 'journal.sqlite'), { readonly: true })
    const totals = await store.usageTotals().finally(() => store.close())
    expect(totals).toEqual({ usage: { calls: 300 }, failedUsage: { calls: 7 } })
  }
  expect(new Set(digests).size).toBe(1)
})
