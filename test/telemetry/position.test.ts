import { describe, expect, it } from 'vitest'
import { ProgressTracker } from '../../src/telemetry/progressTracker.ts'

const tracker = (total: number | null): ProgressTracker =>
  new ProgressTracker({
    job: 'p',
    runId: 'r',
    total,
    committed: 0,
    workers: 1,
    startedAt: 0,
    stallAfterMs: 60_000,
    refreshMs: 10_000,
    heartbeatMs: 10_000,
    owner: { pid: 1, host: 'h' },
  })

describe('a program that reports where it is (exec)', () => {
  it('rate after a resume: a program resuming at 41 of 60 is measured from there, not credited with 41 items in its first moment', () => {
    const t = tracker(60)
    t.rebase()
    t.position(41, 60, 100)
    for (let i = 1; i <= 12; i++) t.position(41 + i, 60, 100 + i * 300)
    const s = t.snapshot(100 + 12 * 300)
    expect(s.done).toBe(53)
    expect(s.itemsPerSecond).toBeGreaterThan(2.5)
    expect(s.itemsPerSecond).toBeLessThan(4.5) // 1 every 300 ms
    expect(s.etaSeconds).toBeGreaterThan(1.5) // 7 left at 3.3/s
  })

  it('a restart from an earlier checkpoint moves done back and measures afresh; an unknown total gives a rate but no ETA or percentage', () => {
    const t = tracker(null)
    for (let i = 1; i <= 20; i++) t.position(i, null, i * 200)
    t.rebase()
    t.position(10, null, 5_000)
    for (let i = 1; i <= 12; i++) t.position(10 + i, null, 5_000 + i * 200)
    const s = t.snapshot(5_000 + 12 * 200)
    expect(s).toMatchObject({ done: 22, total: null, percent: null, etaSeconds: null })
    expect(s.etaUnknownBecause).toMatch(/does not say how much/)
    expect(s.itemsPerSecond).toBeGreaterThan(4)
    expect(s.itemsPerSecond).toBeLessThan(6)
  })
})
