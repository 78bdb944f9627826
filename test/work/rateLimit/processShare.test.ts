import { join } from 'node:path'
import { expect, it } from 'vitest'
import { parseRateLimit } from '../../../src/job/rateLimit.ts'
import { SqliteStore } from '../../../src/journal/sqlite/sqliteStore.ts'
import { divideAcrossProcesses } from '../../../src/work/rateLimit/processShare.ts'
import { limiterSetup, SharedLimiter } from '../../../src/work/rateLimit/sharedLimiter.ts'
import { tempDir } from '../../support/cli.ts'

const TTL = 30_000

it('rate-limit share: each process of a shared run takes the limit divided by the live processes, itself counted', async () => {
  const store = await SqliteStore.open(join(tempDir(), 'journal.sqlite'))
  try {
    await store.createRun({
      runId: 'r',
      job: 'j',
      fingerprint: 'f',
      identity: '{}',
      total: 100,
      kind: 'map',
      createdAt: 0,
    })
    const limiter = new SharedLimiter(limiterSetup(parseRateLimit('600/min')))
    const reading = async (now: number): Promise<number> => {
      const stop = divideAcrossProcesses(store, 'me', limiter, 60_000, () => now)
      stop()
      // The first count is read at once, asynchronously: wait for the journal's answer.
      await store.claimHolders(now)
      await new Promise((resolve) => setImmediate(resolve))
      return limiter.reading().share
    }
    // Alone, holding nothing at the moment: the whole limit.
    expect(await reading(1)).toBe(1)
    await store.claimRange('a', 5, TTL, 0)
    await store.claimRange('b', 5, TTL, 0)
    expect(await reading(1)).toBe(3)
    await store.claimRange('me', 5, TTL, 0)
    expect(await reading(1)).toBe(3)
    // Claims that expired name nobody: the others have died, and this process takes the whole limit again.
    expect(await reading(TTL + 1)).toBe(1)
    expect(limiter.text).toBe('600 requests/min')
  } finally {
    await store.close()
  }
})
