import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { UsageError } from '../../src/errors.ts'
import type { ProgressSample } from '../../src/preflight/childRun.ts'
import { memoryGrowth, projectDuration } from '../../src/preflight/estimates.ts'
import { loadPolicy } from '../../src/preflight/policy.ts'
import { rehearsalPlan } from '../../src/preflight/preflight.ts'
import { ROOT, tempDir } from '../support/cli.ts'

const MiB = 1024 * 1024

describe('preflight estimates', () => {
  it('bounded-memory: the same retained memory at two scales projects no growth; retained memory in proportion to items is projected to the target', () => {
    const flat = memoryGrowth({ items: 200, retainedBytes: 16 * MiB }, { items: 2_000, retainedBytes: 16 * MiB + 4096 }, 1_000_000)
    expect(flat.projectedGrowthBytes!).toBeLessThan(3 * MiB)
    const leak = memoryGrowth({ items: 200, retainedBytes: 16 * MiB + 200 * 65536 }, { items: 2_000, retainedBytes: 16 * MiB + 2_000 * 65536 }, 20_000)
    expect(leak.bytesPerItem).toBeCloseTo(65536, 0)
    expect(leak.projectedGrowthBytes).toBeCloseTo(18_000 * 65536, -3)
    // A difference below the noise floor (8 MiB) is not growth, however far the target.
    expect(memoryGrowth({ items: 200, retainedBytes: 16 * MiB }, { items: 600, retainedBytes: 16 * MiB + 80 * 1024 }, 10_000_000).projectedGrowthBytes).toBe(0)
    // Too close in scale, or not measured: no verdict rather than a guess.
    expect(memoryGrowth({ items: 200, retainedBytes: 1 }, { items: 400, retainedBytes: 2 }, 10_000).bytesPerItem).toBeNull()
    expect(memoryGrowth({ items: 200, retainedBytes: null }, { items: 2_000, retainedBytes: 2 }, 10_000).bytesPerItem).toBeNull()
  })

  it('the rehearsal is the policy\'s fraction of the target, scaled down to the time budget and saying so', () => {
    expect(rehearsalPlan(30_000, 0.1, 100, undefined)).toEqual({ items: 3_000, fraction: 0.1, note: undefined })
    expect(rehearsalPlan(30_000, 0.1, 100, 60)).toEqual({ items: 3_000, fraction: 0.1, note: undefined })
    const capped = rehearsalPlan(30_000, 0.1, 10, 60)
    expect(capped.items).toBe(600)
    expect(capped.fraction).toBeCloseTo(0.02)
    expect(capped.note).toMatch(/scaled down from 10\.0% to fit --rehearsal-budget 60s \(about 300s at the measured 10 items\/s\)/)
  })

  it('honest-eta at the target: a steady rehearsal projects total / rate, inside its interval', () => {
    const samples: ProgressSample[] = Array.from({ length: 41 }, (_, i) => ({
      at: 1_000_000 + i * 250, state: 'running', done: i * 25, staleSeconds: 0, heartbeatAgeSeconds: 0,
      stallAfterSeconds: 300, refreshSeconds: 10, missingFields: [], rssBytes: null,
    }))
    // 100 items/s: 10,000 items take about 100 s.
    const projection = projectDuration(samples, 10_000)
    expect(projection.seconds!).toBeGreaterThan(90)
    expect(projection.seconds!).toBeLessThan(110)
    expect(projection.low!).toBeLessThanOrEqual(projection.seconds!)
    expect(projection.high!).toBeGreaterThanOrEqual(projection.seconds!)
    expect(projectDuration(samples.slice(0, 1), 10_000).seconds).toBeNull()
  })

  it('the policy comes from the nearest longhaul.config.ts above the job, else the defaults; a bad rule is refused naming the file', async () => {
    const defaults = await loadPolicy(join(ROOT, 'test/fixtures/broken/sound.ts'))
    expect(defaults.source).toBeNull()
    expect(defaults.policy).toMatchObject({ maxLostWorkSeconds: 300, requireProofAbove: 1_000, rehearsalFraction: 0.1, diskMargin: 1.5 })
    const fixtures = await loadPolicy(join(ROOT, 'test/fixtures/jobs/squares.ts'))
    expect(fixtures.source).toBe(join(ROOT, 'test/fixtures/jobs/longhaul.config.ts'))
    expect(fixtures.policy.requireProofAbove).toBe(1_000_000)
    expect(fixtures.digest).not.toBe(defaults.digest)

    const dir = join(tempDir(), 'project')
    mkdirSync(join(dir, 'jobs'), { recursive: true })
    writeFileSync(join(dir, 'longhaul.config.mjs'), 'export default { progressEverySeconds: 60, progressMaxStaleSeconds: 30 }\n')
    await expect(loadPolicy(join(dir, 'jobs/job.ts'))).rejects.toThrow(UsageError)
    await expect(loadPolicy(join(dir, 'jobs/job.ts'))).rejects.toThrow(/longhaul\.config\.mjs is not a valid policy[\s\S]*progressEverySeconds must not be above progressMaxStaleSeconds/)
  })
})
