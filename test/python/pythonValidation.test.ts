/**
 * Preflight's validators over a Python job: its validate(record, index) runs in Python over every record of the
 * rehearsal, read back through longhaul.open_run as a loader sees it.
 */
import { join } from 'node:path'
import { expect, it } from 'vitest'
import { runMapJob } from '../../src/index.ts'
import { loadJob } from '../../src/job/loadJob.ts'
import { policySchema } from '../../src/preflight/policy.ts'
import { judgeValidation, validationEvidence } from '../../src/preflight/validation.ts'
import { ROOT, tempDir } from '../support/cli.ts'

const VALIDATED = join(ROOT, 'test/fixtures/python/validated.py')

it('validators: a Python validate rejecting 3% of the records fails preflight validation, naming the first rejected and their reason', async () => {
  const out = join(tempDir(), 'out')
  expect((await runMapJob({ jobPath: VALIDATED, outDir: out })).state).toBe('complete')
  const evidence = await validationEvidence(await loadJob(VALIDATED), VALIDATED, out)
  expect(evidence).toMatchObject({
    declared: true,
    hasValidate: true,
    records: {
      count: 99,
      rejected: 3,
      firstRejected: [{ index: 5, reason: 'record 5 is not ok' }, { index: 38 }, { index: 71 }],
    },
  })
  const verdict = judgeValidation(policySchema.parse({}), evidence)
  expect(verdict.passed).toBe(false)
  expect(verdict.failures[0]).toContain('validate() rejected 3 of 99 records (3.0%')
  expect(judgeValidation(policySchema.parse({ maxInvalidFraction: 0.05 }), evidence).passed).toBe(true)
})

it('validators: a Python job’s dataset checks run in Python over the rehearsal’s records, each reported by name, the failing one with its reason', async () => {
  const job = join(ROOT, 'test/fixtures/python/unbalanced.py')
  const out = join(tempDir(), 'out')
  expect((await runMapJob({ jobPath: job, outDir: out, workers: 2 })).state).toBe('complete')
  const evidence = await validationEvidence(await loadJob(job), job, out)
  expect(evidence).toEqual({
    declared: true,
    hasValidate: false,
    records: {
      count: 80,
      rejected: 0,
      firstRejected: [],
      datasets: [
        {
          name: 'balanced',
          passed: false,
          reason: 'class counts {0: 70, 1: 4, 2: 3, 3: 3}: the largest is more than twice the smallest',
        },
        { name: 'finite', passed: true, reason: null },
      ],
    },
  })
  const verdict = judgeValidation(policySchema.parse({}), evidence)
  expect(verdict.passed).toBe(false)
  expect(verdict.failures).toEqual([
    "validation: dataset check 'balanced' failed: class counts {0: 70, 1: 4, 2: 3, 3: 3}: the largest is more than twice the smallest",
  ])
  expect(verdict.evidence).toBe('no validate(); dataset checks balanced ✘, finite ✔')
})
