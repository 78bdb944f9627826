import { join } from 'node:path'
import { expect, it } from 'vitest'
import { parseRateLimit } from '../../../src/job/rateLimit.ts'
import { SqliteStore } from '../../../src/journal/sqlite/sqliteStore.ts'
import { divideAcrossProcesses } from '../../../src/work/rateLimit/processShare.ts'
import { limiterSetup, SharedLimiter } from '../../../src/work/rateLimit/sharedLimiter.ts'
import { tempDir } from '../../support/cli.ts'

const TTL = 30_000

/** A journal in a fresh folder holding one run of 100 items. */
async function storeWithRun(): Promise<SqliteStore> {
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
    return store
  } catch (error) {
    await store.close()
    throw error
  }
}

it('rate-limit share: each process of a shared run takes the limit divided by the live processes, itself counted', async () => {
  const store = await storeWithRun()
  try {
    const limiter = new SharedLimiter(limiterSetup(parseRateLimit('600/min')))
    const reading = async (now: number): Promise<number> => {
      divideAcrossProcesses(store, 'me', limiter, 60_000, () => now).stop()
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

it('rate-limit share: a process that claims while holding nothing, with others at work, makes no call until they have all counted it (one reading of theirs)', async () => {
  const store = await storeWithRun()
  const EVERY_MS = 300
  const stops: (() => void)[] = []
  try {
    const setup = limiterSetup(parseRateLimit('600/min'))
    const first = new SharedLimiter(setup)
    const firstShare = divideAcrossProcesses(store, 'first', first, EVERY_MS, Date.now)
    stops.push(firstShare.stop)
    await store.claimRange('first', 5, TTL, Date.now())
    // Alone when it claimed: it calls at once, at the whole limit.
    await firstShare.claimedAfterIdle()
    expect(first.reading().share).toBe(1)
    const started = performance.now()
    expect(await first.take({ requests: 1 })).toBe(true)
    expect(performance.now() - started).toBeLessThan(50)

    // A newcomer (another process: a limiter of its own) claims: its first call waits until the first has read it.
    const newcomer = new SharedLimiter(limiterSetup(parseRateLimit('600/min')))
    const newcomerShare = divideAcrossProcesses(store, 'newcomer', newcomer, EVERY_MS, Date.now)
    stops.push(newcomerShare.stop)
    await store.claimRange('newcomer', 5, TTL, Date.now())
    const claimedAt = performance.now()
    await newcomerShare.claimedAfterIdle()
    expect(newcomer.reading().share).toBe(2)
    await newcomer.take({ requests: 1 })
    const firstShareWhenCalled = first.reading().share
    expect(performance.now() - claimedAt).toBeGreaterThanOrEqual(EVERY_MS)
    expect(firstShareWhenCalled, 'the process already at work had counted the newcomer before its first call').toBe(2)
    expect(newcomer.reading().waitingSeconds).toBeGreaterThanOrEqual(EVERY_MS / 1000)
  } finally {
    for (const stop of stops) stop()
    await store.close()
  }
})

it('rate-limit share in step: the processes of a shared run, each pacing its share from the same moment, together never put more than the limit in any window, a call up to 150 ms late included', () => {
  for (const [limit, processes] of [
    [40, 3],
    [40, 2],
    [20, 3],
    [600, 7],
  ] as const) {
    // Each process its own limiter (its own buffer, as separate processes have), all starting at once: in step.
    const starts: number[] = []
    const began = performance.now()
    for (let p = 0; p < processes; p++) {
      const limiter = new SharedLimiter(limiterSetup(parseRateLimit(`${limit}/s`)))
      limiter.setShare(processes)
      for (let call = 0; call < limit * 3; call++)
        starts.push(performance.now() - began + limiter.reserve({ requests: 1 }))
    }
    starts.sort((a, b) => a - b)
    // The most calls that can reach the service in one second: any that start within 1,150 ms of each other (a call
    // that starts on time and one 150 ms late fall in the same second).
    let most = 0
    for (let i = 0, j = 0; i < starts.length; i++) {
      while (starts[i]! - starts[j]! > 1_150) j++
      most = Math.max(most, i - j + 1)
    }
    expect(most, `${processes} processes at ${limit}/s`).toBeLessThanOrEqual(limit)
  }
})

it('rate-limit after a pause: calls held by a pause (a Retry-After, a process waiting to be counted) are spaced out after it, not let go together at its end', () => {
  const limiter = new SharedLimiter(limiterSetup(parseRateLimit('10/s')))
  limiter.pauseFor(300)
  const waits = Array.from({ length: 5 }, () => limiter.reserve({ requests: 1 }))
  expect(waits[0]).toBeGreaterThanOrEqual(290)
  for (let i = 1; i < waits.length; i++) expect(waits[i]! - waits[i - 1]!).toBeGreaterThanOrEqual(100)
})
