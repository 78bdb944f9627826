/**
 * longhaul.testing for a Python job's own tests (pytest, unittest): expect_crash_safe runs the longhaul CLI on the job,
 * SIGKILLs it at seeded moments, resumes it, and raises AssertionError naming the invariant a job breaks.
 */
import { spawnSync } from 'node:child_process'
import { join } from 'node:path'
import { expect, it } from 'vitest'
import { LONG, ROOT } from '../support/cli.ts'

/** Runs `expect_crash_safe` on `job` in python3, as a job's test would; its exit code and what it printed. */
function expectCrashSafe(job: string, total: number, kills: number): { code: number | null; output: string } {
  const script = `import longhaul
try:
    report = longhaul.testing.expect_crash_safe(${JSON.stringify(join(ROOT, 'test/fixtures/python', job))}, total=${total}, kills=${kills})
    print("PASSED", report["items"])
except AssertionError as error:
    print("ASSERTION", error)
    raise SystemExit(1)`
  const done = spawnSync('python3', ['-c', script], {
    env: { ...process.env, PYTHONPATH: join(ROOT, 'python') },
    encoding: 'utf8',
    timeout: 300_000,
  })
  return { code: done.status, output: done.stdout + done.stderr }
}

// npm test has its pass through the scaffolded job's own pytest file (pythonInit.test.ts); test:long runs it here too.
it.skipIf(!LONG)(
  'no-loss, no-duplicates, determinism: longhaul.testing.expect_crash_safe passes a sound Python job after SIGKILLs and resumes',
  () => {
    expect(expectCrashSafe('squares.py', 150, 2)).toEqual({ code: 0, output: 'PASSED 150\n' })
  },
)

it('determinism: longhaul.testing.expect_crash_safe fails a Python job drawing from the unseeded random.random(), saying what to use', () => {
  const { code, output } = expectCrashSafe('unseeded.py', 100, 1)
  expect(code).toBe(1)
  expect(output).toMatch(
    /ASSERTION determinism: .* the items depend on something besides \(seed, index\) \(use ctx\.rng or ctx\.random\)/,
  )
})
