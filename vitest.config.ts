import { relative } from 'node:path'
import { defineConfig } from 'vitest/config'
import { BaseSequencer, type TestSpecification } from 'vitest/node'

/**
 * The files that take longest (ten seconds or more each: preflights, real crashes, shared runs, the scaffolded jobs'
 * own tests), longest first as the suite's last timed runs found them. The workers share the files: one of these
 * started last would run on alone at the end. vitest orders files by their last durations once it has run them here,
 * and by size on a fresh clone, which puts some of these last; so they go first, in this order, and the rest as
 * vitest orders them.
 */
const LONGEST = [
  'test/crash/sharedRun.test.ts',
  'test/dashboard/live.test.ts',
  'test/dashboard/truth.test.ts',
  'test/preflight/execPreflight.test.ts',
  'test/e2e/init.test.ts',
  'test/store/postgres.test.ts',
  'test/preflight/loopPreflight.test.ts',
  'test/crash/sharedRateLimit.test.ts',
  'test/dashboard/liveAuth.test.ts',
  'test/loop/telemetry.test.ts',
  'test/runner/concurrency.test.ts',
  'test/python/pythonServices.test.ts',
  'test/dashboard/gains.test.ts',
  'test/crash/sharedConcurrency.test.ts',
  'test/crash/sharedBucket.test.ts',
  'test/dashboard/programPage.test.ts',
  'test/telemetry/progressFiles.test.ts',
  'test/dashboard/page.test.ts',
  'test/python/pythonInit.test.ts',
  'test/preflight/brokenJobs.test.ts',
  'test/dashboard/sharedWork.test.ts',
  'test/telemetry/sharedStatus.test.ts',
  'test/preflight/projection.test.ts',
  'test/python/pythonAsync.test.ts',
  'test/dashboard/api.test.ts',
  'test/python/pythonCrash.test.ts',
  'test/python/pythonShared.test.ts',
  'test/python/pythonJob.test.ts',
  'test/dashboard/publishRun.test.ts',
  'test/runner/boundedMemory.test.ts',
  'test/dashboard/watch.test.ts',
  'test/loop/keepBest.test.ts',
  'examples/python-training/training.test.ts',
]

class LongestFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const rank = (file: TestSpecification): number => {
      const at = LONGEST.indexOf(relative(file.project.config.root, file.moduleId))
      return at === -1 ? LONGEST.length : at
    }
    // Array.prototype.sort is stable: the files not listed keep vitest's order.
    return (await super.sort(files)).sort((a, b) => rank(a) - rank(b))
  }
}

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts', 'examples/**/*.test.ts'],
    // The CLI the tests start runs the compiled dist/: rebuilt first when src/ changed. Then a private temp
    // folder for the run, which must be empty at the end: the suite leaves /tmp as it found it.
    // And `python3` is the interpreter itself, not a version manager's shim (test/support/python.ts).
    globalSetup: ['scripts/build.mjs', 'test/support/tempGuard.ts', 'test/support/python.ts'],
    testTimeout: 120_000,
    hookTimeout: 60_000,
    // Three files at a time on 2 cores: with two, a fresh-clone run used about one core on average (CPU 460 s over
    // 468 s of vitest), its files waiting on their own processes, rate windows and leases. Four, on a machine already
    // loaded by others (load 15-20), took as long as two over eight long files and failed six tests on their waits;
    // at a quiet moment four took 284 s against three's 304 s, each test 22% longer from the contention, which is the
    // margin the timing-sensitive waits live on (bench/README.md, "The test suite").
    maxWorkers: 3,
    // Each file loads its modules afresh (vitest's default): a job run in a test's own process reads its environment
    // when first imported, and files sharing their worker's modules would run another file's import of it (tried:
    // bench/README.md, "The test suite").
    isolate: true,
    sequence: { sequencer: LongestFirst },
    reporters: ['default'],
  },
})
