// The job's non-functional tests: the same checks `longhaul preflight` runs,
// on this job's own code, in real child processes. Run them with
//   node --import tsx --test __TEST_PATH__
// (or from vitest: the functions throw on failure and resolve with the evidence).
import { test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { expectBoundedLoss, expectCrashSafe, expectFreshProgress } from 'longhaul/testing'

const job = fileURLToPath(new URL('./job.ts', import.meta.url))

test('crash-safe: SIGKILLed at random moments and resumed, it makes exactly the uninterrupted output', {
  timeout: 180_000,
}, async () => {
  await expectCrashSafe(job)
})

test('fresh-progress: progress.json stays fresh and ends COMPLETE', { timeout: 60_000 }, async () => {
  await expectFreshProgress(job)
})

test("bounded-loss: a crash loses at most the policy's max lost work", { timeout: 60_000 }, async () => {
  await expectBoundedLoss(job)
})
