import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { checkMemory } from '../../src/preflight/checks.ts'
import { childRun } from '../../src/preflight/childRun.ts'
import type { PreflightOptions } from '../../src/preflight/options.ts'
import { policySchema } from '../../src/preflight/policy.ts'
import { preflight } from '../../src/preflight/preflight.ts'
import type { CheckId } from '../../src/preflight/proof.ts'
import { LONG, ROOT, tempDir } from '../support/cli.ts'

// Each deliberately broken job must fail preflight, and the failure must name the broken requirement.
const broken = (name: string): string => join(ROOT, 'test/fixtures/broken', `${name}.ts`)

async function prove(name: string, target: number, extra: Partial<PreflightOptions> = {}) {
  const result = await preflight({ jobPath: broken(name), target, outDir: join(tempDir(), name), ...extra })
  const failed = result.statement.predicate.checks.filter((c) => !c.passed)
  return { result, failedIds: failed.map((c) => c.id), failures: failed.flatMap((c) => c.failures).join('\n') }
}

function expectOnly(failedIds: CheckId[], ...expected: CheckId[]): void {
  expect([...failedIds].sort()).toEqual([...expected].sort())
}

describe('preflight of a map job, end to end', () => {
  it('a sound job passes every check and gets a proof, a report and JUnit XML', async () => {
    const { result, failedIds } = await prove('sound', 20_000)
    expect(failedIds).toEqual([])
    expect(result.passed).toBe(true)
    const statement = JSON.parse(readFileSync(result.proofPath, 'utf8'))
    expect(statement._type).toBe('https://in-toto.io/Statement/v1')
    expect(statement.subject[0].digest.sha256).toMatch(/^[0-9a-f]{64}$/)
    expect(statement.predicate).toMatchObject({ verdict: 'PASSED', target: 20_000 })
    expect(
      statement.predicate.checks.find((c: { id: string }) => c.id === 'crash-resume').measurements.kills,
    ).toBeGreaterThanOrEqual(5)
    expect(
      statement.predicate.checks.find((c: { id: string }) => c.id === 'crash-resume').measurements.killsAtCommit,
    ).toBeGreaterThanOrEqual(1)
    expect(readFileSync(result.reportPath, 'utf8')).toMatch(
      /# Preflight PASSED: sound[\s\S]*\| maxLostWorkSeconds \| 300 \| checkpoint-cadence \| ✔ \|/,
    )
    expect(readFileSync(result.junitPath, 'utf8')).toMatch(
      /<testsuite name="longhaul preflight sound" tests="7" failures="0"/,
    )
    expect(existsSync(join(result.proofPath, '..', `.preflight-work-${process.pid}`))).toBe(false)
  }, 120_000)

  // The memory check's verdict is tested on recorded evidence (verdicts.test.ts); this is its measurement, live.
  it('bounded-memory: two real runs of a job that leaks 64 KiB per item measure the growth, and the memory check fails on it', async () => {
    const dir = tempDir()
    const measure = async (items: number) => {
      const run = await childRun({
        jobPath: broken('leaks-memory'),
        outDir: join(dir, String(items)),
        total: items,
        workers: 2,
      })
      return { items, retainedBytes: run.summary!.retainedBytes, samples: run.samples }
    }
    const [small, large] = await Promise.all([measure(200), measure(800)])
    const check = checkMemory({
      policy: policySchema.parse({}),
      small,
      rehearsal: large,
      rehearsalSamples: large.samples,
      target: 20_000,
    })
    expect(check.passed).toBe(false)
    expect(check.measurements.bytesPerItem).toBeGreaterThan(48 * 1024)
    expect(check.failures.join('\n')).toMatch(/bounded-memory: memory grows with items \(\d+\.\d KiB per item/)
  }, 60_000)
})

// Each check's verdict on these jobs' recorded evidence is tested in every run (verdicts.test.ts); the whole preflight of
// each, ten child processes apiece, under test:long.
describe.runIf(LONG)('preflight fails each broken job, naming the broken requirement', () => {
  it('determinism: a job that keeps everything in memory (items depend on history) fails crash/resume and memory', async () => {
    const { failedIds, failures } = await prove('keeps-all-in-memory', 20_000)
    expectOnly(failedIds, 'crash-resume', 'memory')
    expect(failures).toMatch(/determinism: 2 workers made different items than 1 worker/)
    expect(failures).toMatch(/bounded-memory: memory grows with items/)
  }, 120_000)

  it('determinism: a job using Math.random fails crash/resume, pointing at ctx.rng', async () => {
    const { failedIds, failures } = await prove('math-random', 2_000)
    expectOnly(failedIds, 'crash-resume')
    expect(failures).toMatch(/draw randomness from ctx\.rng, not Math\.random/)
  }, 120_000)

  it('bounded-loss: a job that commits every 20 minutes fails checkpoint cadence', async () => {
    const { failedIds, failures } = await prove('slow-checkpoints', 2_000)
    expectOnly(failedIds, 'checkpoint-cadence')
    expect(failures).toMatch(/bounded-loss: a crash at the target could lose 20m00s of work .* the policy allows 5m00s/)
  }, 120_000)

  it('disk: a job whose output would not fit the free disk fails, with the projection', async () => {
    const { failedIds, failures } = await prove('big-output', 20_000, {
      diskProbe: async () => ({ freeBytes: 100 * 1024 ** 2 }),
    })
    expectOnly(failedIds, 'disk')
    expect(failures).toMatch(
      /disk: the output would not fit: 312\.\d MiB projected × 1\.5 margin = 468\.8 MiB, only 100\.0 MiB free/,
    )
  }, 120_000)

  it('bounded-memory: a job that leaks 64 KiB per item fails memory', async () => {
    const { failedIds, failures } = await prove('leaks-memory', 20_000)
    expectOnly(failedIds, 'memory')
    expect(failures).toMatch(/bounded-memory: memory grows with items \(6\d\.\d KiB per item/)
  }, 120_000)

  it('validation: a job whose validator rejects 3% of items fails validation with counts and first indices', async () => {
    const { failedIds, failures } = await prove('invalid-records', 10_000)
    expectOnly(failedIds, 'validation')
    expect(failures).toMatch(/validate\(\) rejected 31 of 1000 records \(3\.1%.*first at 0, 33, 66, 99/)
  }, 120_000)
})
