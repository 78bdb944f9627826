/**
 * longhaul.testing for a Python job's own tests (pytest, unittest): expect_crash_safe, expect_deterministic and
 * expect_preflight_passes run the longhaul CLI on the job and raise AssertionError naming the invariant a job breaks.
 */
import { spawnSync } from 'node:child_process'
import { join } from 'node:path'
import { expect, it } from 'vitest'
import { LONG, ROOT } from '../support/cli.ts'

const FIXTURES = join(ROOT, 'test/fixtures/python')

/** Runs `longhaul.testing.CALL` in python3, as a job's test would, printing what it returns; its exit code and output. */
function check(call: string, shown = 'result'): { code: number | null; output: string } {
  const script = `import longhaul
try:
    result = longhaul.testing.${call}
    print("PASSED", ${shown})
except AssertionError as error:
    print("ASSERTION", error)
    raise SystemExit(1)`
  const done = spawnSync('python3', ['-c', script], {
    env: { ...process.env, PYTHONPATH: join(ROOT, 'python') },
    encoding: 'utf8',
    timeout: 600_000,
  })
  return { code: done.status, output: done.stdout + done.stderr }
}

const job = (name: string): string => JSON.stringify(join(FIXTURES, name))

// npm test has its pass through the scaffolded job's own pytest file (pythonInit.test.ts); test:long runs it here too.
it.skipIf(!LONG)(
  'no-loss, no-duplicates, determinism: longhaul.testing.expect_crash_safe passes a sound Python job after SIGKILLs and resumes',
  () => {
    expect(check(`expect_crash_safe(${job('squares.py')}, total=150, kills=2)`, 'result["items"]')).toEqual({
      code: 0,
      output: 'PASSED 150\n',
    })
  },
)

it('atomic-commit: longhaul.testing.expect_crash_safe kills every other life at a commit (files durable, journal not told), the others at a seeded moment', () => {
  const { code, output } = check(
    `expect_crash_safe(${job('squares.py')}, total=120, kills=3)`,
    '(result["kills"], result["killsAtCommit"] >= 2, result["complete"], result["duplicates"])',
  )
  expect({ code, output }).toEqual({ code: 0, output: 'PASSED (3, True, True, 0)\n' })
})

it('determinism: longhaul.testing.expect_crash_safe fails a Python job drawing from the unseeded random.random(), saying what to use', () => {
  const { code, output } = check(`expect_crash_safe(${job('unseeded.py')}, total=100, kills=1)`)
  expect(code).toBe(1)
  expect(output).toMatch(
    /ASSERTION determinism: .* the items depend on something besides \(seed, index\) \(use ctx\.rng or ctx\.random\)/,
  )
})

it('determinism: longhaul.testing.expect_deterministic gives the one digest of a sound job on 1 and 3 workers, and fails one drawing from random.random(), naming the worker counts', () => {
  const sound = check(`expect_deterministic(${job('squares.py')}, total=60, workers=(1, 3))`)
  expect(sound.code, sound.output).toBe(0)
  expect(sound.output).toMatch(/^PASSED [0-9a-f]{64}\n$/)
  const { code, output } = check(`expect_deterministic(${job('unseeded.py')}, total=40, workers=(1, 2))`)
  expect(code).toBe(1)
  expect(output).toMatch(
    /ASSERTION determinism: 2 workers made different items than 1 \(digest [0-9a-f]{12}… ≠ [0-9a-f]{12}…\): items must depend only on params, seed and index: draw randomness from ctx\.rng or ctx\.random/,
  )
})

it.skipIf(!LONG)(
  'validators: longhaul.testing.expect_preflight_passes fails a Python job whose dataset check fails, listing the failed requirement',
  () => {
    const { code, output } = check(`expect_preflight_passes(${job('unbalanced.py')}, target=500)`)
    expect(code).toBe(1)
    expect(output).toContain("✘ validation: dataset check 'balanced' failed: class counts")
  },
)
