import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { UsageError } from '../../src/errors.ts'
import { memoryGrowth, projectDuration } from '../../src/preflight/estimates.ts'
import { loadPolicy } from '../../src/preflight/policy.ts'
import { rehearsalPlan } from '../../src/preflight/preflight.ts'
import { ROOT, tempDir } from '../support/cli.ts'

const MiB = 1024 * 1024

/**
 * The commit timeline of a rehearsal of items 0 … 399 of 4,000 taking `itemMs(i)` each, committed ten at a time,
 * and how long the whole run of 4,000 takes from its first commit on (in seconds).
 */
function rehearsedTrace(itemMs: (i: number) => number): { timeline: { at: number; done: number }[]; truth: number } {
  const timeline: { at: number; done: number }[] = []
  let at = 1_000_000
  for (let i = 0; i < 400; i++) {
    at += itemMs(i)
    if ((i + 1) % 10 === 0) timeline.push({ at, done: i + 1 })
  }
  let rest = 0
  for (let i = 400; i < 4_000; i++) rest += itemMs(i)
  return { timeline, truth: (at - timeline[0]!.at + rest) / 1000 }
}

describe('preflight estimates', () => {
  it('bounded-memory: the same retained memory at two scales projects no growth; retained memory in proportion to items is projected to the target', () => {
    const flat = memoryGrowth(
      { items: 200, retainedBytes: 16 * MiB },
      { items: 2_000, retainedBytes: 16 * MiB + 4096 },
      1_000_000,
    )
    expect(flat.projectedGrowthBytes!).toBeLessThan(3 * MiB)
    const leak = memoryGrowth(
      { items: 200, retainedBytes: 16 * MiB + 200 * 65536 },
      { items: 2_000, retainedBytes: 16 * MiB + 2_000 * 65536 },
      20_000,
    )
    expect(leak.bytesPerItem).toBeCloseTo(65536, 0)
    expect(leak.projectedGrowthBytes).toBeCloseTo(18_000 * 65536, -3)
    // A difference below the noise floor (8 MiB) is not growth, however far the target.
    expect(
      memoryGrowth(
        { items: 200, retainedBytes: 16 * MiB },
        { items: 600, retainedBytes: 16 * MiB + 80 * 1024 },
        10_000_000,
      ).projectedGrowthBytes,
    ).toBe(0)
    // Too close in scale, or not measured: no verdict rather than a guess.
    expect(
      memoryGrowth({ items: 200, retainedBytes: 1 }, { items: 400, retainedBytes: 2 }, 10_000).bytesPerItem,
    ).toBeNull()
    expect(
      memoryGrowth({ items: 200, retainedBytes: null }, { items: 2_000, retainedBytes: 2 }, 10_000).bytesPerItem,
    ).toBeNull()
  })

  it("the rehearsal is the policy's fraction of the target, scaled down to the time budget and saying so", () => {
    expect(rehearsalPlan(30_000, 0.1, 100, undefined)).toEqual({ items: 3_000, fraction: 0.1, note: undefined })
    expect(rehearsalPlan(30_000, 0.1, 100, 60)).toEqual({ items: 3_000, fraction: 0.1, note: undefined })
    const capped = rehearsalPlan(30_000, 0.1, 10, 60)
    expect(capped.items).toBe(600)
    expect(capped.fraction).toBeCloseTo(0.02)
    expect(capped.note).toMatch(
      /scaled down from 10\.0% to fit --rehearsal-budget 60s \(about 300s at the measured 10 items\/s\)/,
    )
  })

  it('honest-eta at the target: a steady rehearsal projects its fixed part plus total / rate, inside its interval', () => {
    // A commit of 25 items every 250 ms: 100 items/s once the items flow; every run spent 2 to 3 s outside that flow.
    const timeline = Array.from({ length: 41 }, (_, i) => ({ at: 1_000_000 + i * 250, done: 25 + i * 25 }))
    const projection = projectDuration(timeline, 10_000, [2_000, 2_500, 3_000])
    // 2.5 s + (10,000 - 25) items at 100 items/s.
    expect(projection.seconds!).toBeGreaterThan(95)
    expect(projection.seconds!).toBeLessThan(110)
    expect(projection.low!).toBeLessThanOrEqual(projection.seconds!)
    expect(projection.high!).toBeGreaterThanOrEqual(projection.seconds!)
    expect(projection.overheadSeconds).toEqual({ median: 2.5, least: 2, most: 3 })
    // One commit, or no run whose fixed part is known: no projection rather than a guess.
    expect(projectDuration(timeline.slice(0, 1), 10_000, [2_000]).seconds).toBeNull()
    expect(projectDuration(timeline, 10_000, []).seconds).toBeNull()
  })

  it("projection-holds: items that keep slowing down are projected at the rehearsal's pace, and the interval reaches the slowdown followed to the end", () => {
    // Item i takes 10 ms × (1 + i / 1000); the rehearsal committed items 0 … 399 (10% of 4,000), ten at a time.
    const itemMs = (i: number): number => 10 * (1 + i / 1000)
    const { timeline, truth } = rehearsedTrace(itemMs)
    const projection = projectDuration(timeline, 4_000, [0])
    // At the rehearsal's pace the target is about 50 s; the slowdown followed makes it 120 s: inside the interval.
    expect(projection.seconds!).toBeLessThan(0.5 * truth)
    expect(projection.low!).toBeLessThanOrEqual(projection.seconds!)
    expect(projection.high!).toBeGreaterThanOrEqual(0.99 * truth)
  })

  it('projection-holds: bursty items (one item in a hundred 50 times slower) are projected inside the interval the whole run ends in', () => {
    // Item i takes 2 ms, or 100 ms when i % 100 === 37; the rehearsal committed items 0 … 399 (10% of 4,000), ten at a time.
    const itemMs = (i: number): number => (i % 100 === 37 ? 100 : 2)
    const { timeline, truth } = rehearsedTrace(itemMs)
    const projection = projectDuration(timeline, 4_000, [0])
    expect(projection.low!).toBeLessThanOrEqual(truth)
    expect(projection.high!).toBeGreaterThanOrEqual(truth)
    // The bursts are part of the pace: the projection itself lands close to the truth.
    expect(Math.abs(projection.seconds! - truth) / truth).toBeLessThan(0.15)
  })

  it('projection-holds: items that speed up over the rehearsal (code warming up) are projected at the pace they reached, inside the interval', () => {
    // Item i takes 2 ms, four times that at first, the extra fading over the rehearsal's first few hundred items.
    const itemMs = (i: number): number => 2 * (1 + 3 * Math.exp(-i / 100))
    const { timeline, truth } = rehearsedTrace(itemMs)
    const projection = projectDuration(timeline, 4_000, [0])
    expect(projection.low!).toBeLessThanOrEqual(truth)
    expect(projection.high!).toBeGreaterThanOrEqual(truth)
    // Carried at the rehearsal's whole pace, it would be over 40% long.
    expect(Math.abs(projection.seconds! - truth) / truth).toBeLessThan(0.2)
  })

  it("projection-holds on the README example: its recorded 200-item rehearsal projects an interval the recorded 2,000-item run's items end in", () => {
    const recorded = JSON.parse(
      readFileSync(join(ROOT, 'test/fixtures/evidence/trajectories-timelines.json'), 'utf8'),
    ) as Record<'rehearsal' | 'run', [number, number][]>
    const timeline = recorded.rehearsal.map(([at, done]) => ({ at, done }))
    // Without the fixed part (start-up, wrap-up: measured apart), the projection is the run's first to last commit.
    const projection = projectDuration(timeline, 2_000, [0])
    const truth = recorded.run.at(-1)![0] / 1000
    expect(projection.low!).toBeLessThanOrEqual(truth)
    expect(projection.high!).toBeGreaterThanOrEqual(truth)
    expect(Math.abs(projection.seconds! - truth) / truth).toBeLessThan(0.25)
  })

  it('the policy comes from the nearest longhaul.config.ts above the job, else the defaults; a bad rule is refused naming the file', async () => {
    const defaults = await loadPolicy(join(ROOT, 'test/fixtures/broken/sound.ts'))
    expect(defaults.source).toBeNull()
    expect(defaults.policy).toMatchObject({
      maxLostWorkSeconds: 300,
      requireProofAbove: 1_000,
      rehearsalFraction: 0.1,
      diskMargin: 1.5,
    })
    const fixtures = await loadPolicy(join(ROOT, 'test/fixtures/jobs/squares.ts'))
    expect(fixtures.source).toBe(join(ROOT, 'test/fixtures/jobs/longhaul.config.ts'))
    expect(fixtures.policy.requireProofAbove).toBe(1_000_000)
    expect(fixtures.digest).not.toBe(defaults.digest)

    const dir = join(tempDir(), 'project')
    mkdirSync(join(dir, 'jobs'), { recursive: true })
    writeFileSync(
      join(dir, 'longhaul.config.mjs'),
      'export default { progressEverySeconds: 60, progressMaxStaleSeconds: 30 }\n',
    )
    await expect(loadPolicy(join(dir, 'jobs/job.ts'))).rejects.toThrow(UsageError)
    await expect(loadPolicy(join(dir, 'jobs/job.ts'))).rejects.toThrow(
      /longhaul\.config\.mjs is not a valid policy[\s\S]*progressEverySeconds must not be above progressMaxStaleSeconds/,
    )
  })
})
