import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { type Eta, EtaEstimator } from '../../src/telemetry/eta.ts'

/** Feeds `(gapMs, items)` steps to a fresh estimator started at 0; returns it with the last time and count. */
function fed(steps: readonly { gapMs: number; items: number }[]) {
  const eta = new EtaEstimator(0)
  let t = 0
  let done = 0
  for (const step of steps) {
    t += step.gapMs
    done += step.items
    eta.observe(t, done)
  }
  return { eta, t, done }
}

/** A run at `perSecond` items/s observed every second for `seconds`, continuing from (t, done). */
function steady(eta: EtaEstimator, from: { t: number; done: number }, perSecond: number, seconds: number) {
  let { t, done } = from
  for (let s = 0; s < seconds; s++) {
    t += 1000
    done += perSecond
    eta.observe(t, done)
  }
  return { t, done }
}

/** Runs observed every few seconds, with bursts, floods of items at one instant, and long silences. */
const histories = fc.array(
  fc.oneof(
    fc.record({ gapMs: fc.integer({ min: 0, max: 20_000 }), items: fc.integer({ min: 0, max: 200 }) }),
    fc.record({ gapMs: fc.integer({ min: 0, max: 3 }), items: fc.integer({ min: 0, max: 1_000_000 }) }),
    fc.record({ gapMs: fc.integer({ min: 0, max: 1e9 }), items: fc.integer({ min: 0, max: 3 }) }),
  ),
  { maxLength: 300 },
)

function expectKnownWithInterval(estimate: Eta) {
  const { etaSeconds, etaLow, etaHigh, itemsPerSecond } = estimate
  expect(etaSeconds).not.toBeNull()
  for (const value of [etaSeconds, etaLow, etaHigh, itemsPerSecond]) expect(Number.isFinite(value)).toBe(true)
  expect(etaLow!).toBeGreaterThanOrEqual(0)
  expect(etaLow!).toBeLessThanOrEqual(etaSeconds!)
  expect(etaSeconds!).toBeLessThanOrEqual(etaHigh!)
}

describe('honest-eta', () => {
  it('honest-eta: unknown, with a reason, before enough data', () => {
    const eta = new EtaEstimator(0)
    expect(eta.estimate(5_000, 100)).toMatchObject({
      etaSeconds: null,
      etaLow: null,
      etaHigh: null,
      itemsPerSecond: null,
      unknownBecause: expect.any(String),
    })
    eta.observe(500, 1)
    expect(eta.estimate(1_000, 99)).toMatchObject({ etaSeconds: null, unknownBecause: expect.any(String) })
    eta.observe(1_000, 2)
    expect(eta.estimate(1_500, 98)).toMatchObject({ etaSeconds: null, unknownBecause: expect.any(String) })
    const known = eta.estimate(2_000, 98)
    expectKnownWithInterval(known)
    expect(known.unknownBecause).toBeUndefined()
  })

  it('honest-eta: while nothing completes the ETA grows and the rate falls (or it becomes unknown, with a reason)', () => {
    fc.assert(
      fc.property(
        histories,
        fc.array(fc.integer({ min: 1, max: 3_600_000 }), { minLength: 1, maxLength: 10 }),
        fc.integer({ min: 1, max: 10_000_000 }),
        (steps, waits, remaining) => {
          const { eta, t } = fed(steps)
          let now = t
          let previous = eta.estimate(now, remaining)
          for (const wait of waits) {
            now += wait
            const next = eta.estimate(now, remaining)
            if (next.etaSeconds === null) expect(next.unknownBecause).toEqual(expect.any(String))
            else if (previous.etaSeconds !== null) {
              expect(next.etaSeconds).toBeGreaterThan(previous.etaSeconds)
              expect(next.itemsPerSecond!).toBeLessThan(previous.itemsPerSecond!)
            }
            previous = next
          }
        },
      ),
      { numRuns: 300 },
    )
  })

  it('honest-eta: a known ETA always carries an interval etaLow ≤ etaSeconds ≤ etaHigh', () => {
    fc.assert(
      fc.property(
        histories,
        fc.integer({ min: 0, max: 600_000 }),
        fc.integer({ min: 1, max: 10_000_000 }),
        (steps, wait, remaining) => {
          const { eta, t } = fed(steps)
          const estimate = eta.estimate(t + wait, remaining)
          if (estimate.etaSeconds === null) expect(estimate.unknownBecause).toEqual(expect.any(String))
          else expectKnownWithInterval(estimate)
        },
      ),
      { numRuns: 300 },
    )
  })

  it('honest-eta: 0 when nothing remains', () => {
    expect(new EtaEstimator(0).estimate(0, 0)).toMatchObject({ etaSeconds: 0, etaLow: 0, etaHigh: 0 })
    const eta = new EtaEstimator(0)
    steady(eta, { t: 0, done: 0 }, 10, 30)
    expect(eta.estimate(30_000, 0)).toEqual({ itemsPerSecond: 10, etaSeconds: 0, etaLow: 0, etaHigh: 0 })
  })

  it('honest-eta: memory stays bounded (1,000,000 samples), and the estimate with it', () => {
    const eta = new EtaEstimator(0)
    const last = steady(eta, { t: 0, done: 0 }, 10, 1_000_000)
    expect((eta as unknown as { samples: unknown[] }).samples.length).toBeLessThanOrEqual(2_048)
    const estimate = eta.estimate(last.t, 1_000)
    expect(estimate.etaSeconds).toBeCloseTo(100, 0)
    expect(estimate.itemsPerSecond).toBeCloseTo(10, 1)
  })

  it('honest-eta: a steady run gets what is left at its rate, inside the interval', () => {
    const eta = new EtaEstimator(0)
    const last = steady(eta, { t: 0, done: 0 }, 10, 100)
    const estimate = eta.estimate(last.t, 500)
    expect(estimate.etaSeconds).toBeCloseTo(50, 3)
    expect(estimate.etaLow!).toBeLessThanOrEqual(50)
    expect(estimate.etaHigh!).toBeGreaterThanOrEqual(50)
  })

  it('honest-eta: a change of pace is followed, not averaged with the past', () => {
    const eta = new EtaEstimator(0)
    const last = steady(eta, steady(eta, { t: 0, done: 0 }, 2, 200), 10, 60)
    // 1,000 items at the new pace (10/s), not at the session's (1,000 items in 260 s).
    expect(eta.estimate(last.t, 1_000).etaSeconds).toBeCloseTo(100, -1)
  })

  it('honest-eta: bursts (50 items at once, every 10 s) are not taken for changes of pace', () => {
    const eta = new EtaEstimator(0)
    let done = 0
    for (let t = 1_000; t <= 600_000; t += 1_000) {
      if (t % 10_000 === 0) done += 50
      eta.observe(t, done)
    }
    // 5 items/s whether asked just after a burst or just before the next.
    for (const now of [600_000, 609_000]) expect(eta.estimate(now, 1_000).etaSeconds).toBeGreaterThan(180)
    expect(eta.estimate(600_000, 1_000).etaSeconds).toBeLessThan(220)
  })
})
