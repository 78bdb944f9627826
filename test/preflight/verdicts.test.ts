/**
 * Each check of preflight, as a function of the evidence a real preflight of
 * a deliberately broken job gathered (recorded by
 * test/fixtures/evidence/record.ts): each broken job fails exactly the check
 * of the requirement it breaks, the failure names it, and a sound job's
 * evidence passes them all. The same jobs are preflighted end to end under
 * `npm run test:long` (brokenJobs.test.ts, loopPreflight.test.ts).
 */
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { loadPolicy } from '../../src/preflight/policy.ts'
import { judge, type SuiteEvidence } from '../../src/preflight/preflight.ts'
import type { CheckId } from '../../src/preflight/proof.ts'
import { type Recorded, recorded } from '../fixtures/evidence/record.ts'
import { ROOT } from '../support/cli.ts'

/** The verdicts on a job's recorded evidence (changed by `change`), under the policy its preflight used. */
async function verdicts(name: Recorded, change: (e: SuiteEvidence) => SuiteEvidence = (e) => e) {
  const { job, evidence } = recorded(name)
  const { policy } = await loadPolicy(join(ROOT, 'test/fixtures', job))
  const checks = judge(policy, change(evidence))
  const failed = checks.filter((c) => !c.passed)
  return {
    checks,
    failedIds: failed.map((c) => c.id).sort(),
    failures: failed.flatMap((c) => c.failures).join('\n'),
    check: (id: CheckId) => checks.find((c) => c.id === id)!,
  }
}

describe('preflight verdicts on the evidence of real map jobs', () => {
  it("a sound job's evidence passes all seven checks", async () => {
    const { checks, failedIds, check } = await verdicts('sound')
    expect(checks.map((c) => c.id)).toEqual([
      'crash-resume',
      'checkpoint-cadence',
      'progress-freshness',
      'rehearsal',
      'disk',
      'memory',
      'validation',
    ])
    expect(failedIds).toEqual([])
    expect(check('crash-resume').measurements.kills).toBeGreaterThanOrEqual(5)
    expect(check('crash-resume').measurements.killsAtCommit).toBeGreaterThanOrEqual(1)
    expect(check('validation').evidence).toMatch(
      /validate\(\) on 2000 records: 0 rejected; dataset checks balancedLabels ✔/,
    )
  })

  it('determinism: a job that keeps everything in memory (items depend on history) fails crash/resume and memory', async () => {
    const { failedIds, failures } = await verdicts('keeps-all-in-memory')
    expect(failedIds).toEqual(['crash-resume', 'memory'])
    expect(failures).toMatch(/determinism: 2 workers made different items than 1 worker/)
    expect(failures).toMatch(/bounded-memory: memory grows with items/)
  })

  it('determinism: a job using Math.random fails crash/resume, pointing at ctx.rng', async () => {
    const { failedIds, failures } = await verdicts('math-random')
    expect(failedIds).toEqual(['crash-resume'])
    expect(failures).toMatch(/draw randomness from ctx\.rng, not Math\.random/)
  })

  it('no-loss/no-duplicates: a crashed run whose output differs from the uninterrupted one fails, and so does one that does not verify', async () => {
    const crashedElsewhere = await verdicts('sound', (e) =>
      e.kind === 'map' ? { ...e, crash: { ...e.crash, crashed: { ...e.crash.crashed!, digest: 'f'.repeat(64) } } } : e,
    )
    expect(crashedElsewhere.failedIds).toEqual(['crash-resume'])
    expect(crashedElsewhere.failures).toMatch(
      /no-loss\/no-duplicates\/determinism: after \d+ crashes and resumes the output differs/,
    )
    const duplicated = await verdicts('sound', (e) =>
      e.kind === 'map'
        ? {
            ...e,
            crash: { ...e.crash, verified: { ...e.crash.verified!, duplicates: 3, problems: ['items 7-9 twice'] } },
          }
        : e,
    )
    expect(duplicated.failures).toMatch(/atomic-commit: the crashed run does not verify \(items 7-9 twice\)/)
  })

  it('bounded-loss: a job that commits every 20 minutes fails checkpoint cadence', async () => {
    const { failedIds, failures } = await verdicts('slow-checkpoints')
    expect(failedIds).toEqual(['checkpoint-cadence'])
    expect(failures).toMatch(/bounded-loss: a crash at the target could lose 20m00s of work .* the policy allows 5m00s/)
  })

  it('disk: a job whose output would not fit the free disk fails, with the projection', async () => {
    const { failedIds, failures } = await verdicts('big-output', (e) => ({ ...e, freeBytes: 100 * 1024 ** 2 }))
    expect(failedIds).toEqual(['disk'])
    expect(failures).toMatch(
      /disk: the output would not fit: 312\.\d MiB projected × 1\.5 margin = 468\.8 MiB, only 100\.0 MiB free/,
    )
    expect((await verdicts('big-output')).failedIds).toEqual([])
  })

  it('bounded-memory: a job that leaks 64 KiB per item fails memory', async () => {
    const { failedIds, failures } = await verdicts('leaks-memory')
    expect(failedIds).toEqual(['memory'])
    expect(failures).toMatch(/bounded-memory: memory grows with items \(6\d\.\d KiB per item/)
  })

  it('validation: a job whose validator rejects 3% of items fails validation with counts and first indices', async () => {
    const { failedIds, failures } = await verdicts('invalid-records')
    expect(failedIds).toEqual(['validation'])
    expect(failures).toMatch(/validate\(\) rejected 31 of 1000 records \(3\.1%.*first at 0, 33, 66, 99/)
  })

  it('fresh-progress: a run whose progress.json went stale, or that never said COMPLETE, fails freshness', async () => {
    const stale = await verdicts('sound', (e) => ({
      ...e,
      runs: e.runs.map((r, i) =>
        i === 0 ? { ...r, samples: r.samples.map((s) => ({ ...s, staleSeconds: 999 })) } : r,
      ),
    }))
    expect(stale.failedIds).toEqual(['progress-freshness'])
    expect(stale.failures).toMatch(/fresh-progress: progress\.json was 999\.0 s old while the run lived/)
    const unfinished = await verdicts('sound', (e) => ({
      ...e,
      rehearsal: { ...e.rehearsal, finalTextState: 'RUNNING' },
    }))
    expect(unfinished.failures).toMatch(
      /after the rehearsal finished, progress\.json says 'complete' and PROGRESS\.txt 'RUNNING'/,
    )
  })
})

describe('preflight verdicts on the evidence of real loop jobs', () => {
  it('crash/resume equivalence: a loop whose state lives outside save() fails, and the failure says what to keep in the state', async () => {
    const { failedIds, failures } = await verdicts('loop-hidden-state')
    expect(failedIds).toEqual(['crash-resume'])
    expect(failures).toMatch(
      /final state differs from the uninterrupted run's[\s\S]*save\(\) must capture everything step\(\) reads/,
    )
  })

  it('bounded-memory: a loop that keeps a piece of every step fails memory (and only memory), proved without running past its target', async () => {
    const { failedIds, failures, check } = await verdicts('loop-leaky')
    expect(failedIds).toEqual(['memory'])
    expect(failures).toMatch(/the loop's memory grows with steps \(64\.\d KiB per step/)
    expect(check('crash-resume').measurements.items).toBeLessThanOrEqual(5000)
  })

  it('a fast loop over a finite dataset is proved at its own size: every kill lands, never a step past its data', async () => {
    const { failedIds, check } = await verdicts('loop-bounded')
    expect(failedIds).toEqual([])
    expect(check('crash-resume').measurements).toMatchObject({ kills: 2 })
    expect(check('crash-resume').measurements.items).toBeLessThanOrEqual(3000)
    // Fewer kills than the policy asks for is a failure, naming the cure.
    const short = await verdicts('loop-bounded', (e) =>
      e.kind === 'loop' ? { ...e, crash: { ...e.crash, crashed: { ...e.crash.crashed!, kills: 1 } } } : e,
    )
    expect(short.failures).toMatch(
      /only 1 of 2 kills happened before the run completed: .* Prove a larger target, or lower crashKills/,
    )
  })
})
