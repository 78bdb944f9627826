import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import type { LoopJob } from '../../src/job/defineLoop.ts'
import { childRun } from '../../src/preflight/childRun.ts'
import { checkLoopDisk, checkLoopMemory, stateGrowth } from '../../src/preflight/loopChecks.ts'
import { policySchema } from '../../src/preflight/policy.ts'
import { preflight } from '../../src/preflight/preflight.ts'
import type { ProgressSnapshot } from '../../src/telemetry/snapshot.ts'
import { LONG, ROOT, runCliHere, tempDir } from '../support/cli.ts'

const loop = (name: string): string => join(ROOT, 'test/fixtures/loops', `${name}.ts`)
const failedChecks = (result: Awaited<ReturnType<typeof preflight>>) =>
  result.statement.predicate.checks.filter((c) => !c.passed)

describe('preflight and the launch gate for loop jobs', () => {
  it('gate: a sound loop is proved (final state identical after SIGKILLs), and run above the limit is accepted with that proof', async () => {
    const out = join(tempDir(), 'descent')
    process.env.SLEEP_MS = '2'
    try {
      const result = await preflight({ jobPath: loop('descent'), target: 3000, outDir: out })
      expect(failedChecks(result)).toEqual([])
      const crash = result.statement.predicate.checks.find((c) => c.id === 'crash-resume')!
      expect(crash.measurements).toMatchObject({ kills: 2 })
      expect(crash.measurements.killsAtCommit).toBeGreaterThanOrEqual(1)
      expect(crash.evidence).toMatch(/final state identical to the uninterrupted run's/)
      expect(readFileSync(result.reportPath, 'utf8')).toMatch(/# Preflight PASSED: descent/)
    } finally {
      delete process.env.SLEEP_MS
    }
    // The proved run, in this process and at full speed (the gate looks at the job's fingerprint and the proof's
    // target, not at its pace; the pace was for the kills to land between checkpoints).
    const run = await runCliHere(['run', loop('descent'), '--out', out, '--total', '3000'])
    expect(run.code, run.stderr).toBe(0)
    const progress = JSON.parse(readFileSync(join(out, 'progress.json'), 'utf8')) as ProgressSnapshot
    expect(progress).toMatchObject({ state: 'complete', done: 3000, gate: { status: 'proved', target: 3000 } })
    // Past the proof's target: refused, as for map jobs.
    const beyond = await runCliHere(['run', loop('descent'), '--out', out, '--total', '3001'])
    expect(beyond.code).toBe(3)
  }, 180_000)

  // The memory check's verdict is tested on recorded evidence (verdicts.test.ts); this is its measurement, live.
  it("bounded-memory: two real runs of a loop that keeps 64 KiB of every step measure the growth, and the loop's memory check fails on it", async () => {
    const dir = tempDir()
    const measure = async (items: number) => {
      const run = await childRun({ jobPath: loop('leaky'), outDir: join(dir, String(items)), total: items })
      return { items, retainedBytes: run.summary!.retainedBytes }
    }
    const [smaller, larger] = await Promise.all([measure(100), measure(400)])
    const check = checkLoopMemory({ policy: policySchema.parse({}), smaller, larger, target: 5000 })
    expect(check.passed).toBe(false)
    expect(check.measurements.bytesPerStep).toBeGreaterThan(48 * 1024)
    expect(check.failures.join('\n')).toMatch(/the loop's memory grows with steps \(\d+\.\d KiB per step/)
  }, 60_000)

  it("disk: the checkpoints kept and the final state, at the state's projected size, must fit", () => {
    const policy = policySchema.parse({})
    const growing = stateGrowth(
      [
        { steps: 500, bytes: 512_000 },
        { steps: 5000, bytes: 5_120_000 },
      ],
      1_000_000,
    )
    expect(growing.bytesPerStep).toBeCloseTo(1024, 0)
    const job = { keep: 3, best: { metric: 'loss', mode: 'min' } } as unknown as LoopJob
    const disk = checkLoopDisk({
      policy,
      job,
      growth: stateGrowth(
        [
          { steps: 10, bytes: 100 * 1024 * 1024 },
          { steps: 20, bytes: 100 * 1024 * 1024 },
        ],
        1000,
      ),
      freeBytes: 700 * 1024 * 1024,
    })
    // 100 MiB × (3 kept + best + one being written + final) × 1.5 = 900 MiB > 700 MiB free.
    expect(disk.passed).toBe(false)
    expect(disk.measurements).toMatchObject({ copies: 6 })
    expect(checkLoopDisk({ policy, job, growth: growing, freeBytes: 1e12 }).passed).toBe(true)
  })
})

// Each check's verdict on these loops' recorded evidence is tested in every run (verdicts.test.ts); the whole preflight of
// each under test:long.
describe.runIf(LONG)('preflight fails each broken loop, naming the broken requirement', () => {
  it('crash/resume equivalence: a loop whose state lives outside save() fails, and the failure says what to keep in the state', async () => {
    const result = await preflight({ jobPath: loop('hidden-state'), target: 5000, outDir: join(tempDir(), 'hidden') })
    expect(failedChecks(result).map((c) => c.id)).toEqual(['crash-resume'])
    expect(failedChecks(result)[0]!.failures.join('\n')).toMatch(
      /final state differs from the uninterrupted run's[\s\S]*save\(\) must capture everything step\(\) reads/,
    )
    expect(result.passed).toBe(false)
  }, 180_000)

  it('bounded-memory: a loop that keeps a piece of every step fails memory (and only memory), proved without running past its target', async () => {
    const result = await preflight({ jobPath: loop('leaky'), target: 5000, outDir: join(tempDir(), 'leaky') })
    expect(failedChecks(result).map((c) => c.id)).toEqual(['memory'])
    expect(failedChecks(result)[0]!.failures.join('\n')).toMatch(
      /the loop's memory grows with steps \(64\.\d KiB per step/,
    )
    const crash = result.statement.predicate.checks.find((c) => c.id === 'crash-resume')!
    expect(crash.measurements.items).toBeLessThanOrEqual(5000)
  }, 180_000)

  it('a fast loop over a finite dataset is proved at its own size: checkpoints every few steps, every kill lands, never a step past its data', async () => {
    const result = await preflight({ jobPath: loop('bounded'), target: 3000, outDir: join(tempDir(), 'bounded') })
    expect(failedChecks(result)).toEqual([])
    const crash = result.statement.predicate.checks.find((c) => c.id === 'crash-resume')!
    // As many steps as the kills need at the measured rate (all 3,000 on a quiet machine), never more than the data has.
    expect(crash.measurements).toMatchObject({ kills: 2 })
    expect(crash.measurements.items).toBeLessThanOrEqual(3000)
  }, 120_000)
})
