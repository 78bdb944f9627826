import { spawnSync } from 'node:child_process'
import { expect, it } from 'vitest'
import { ROOT } from '../support/cli.ts'

// The Python helper's own tests (python/test_longhaul.py, unittest) run with the suite, so CI covers them.
it('python/longhaul.py: its unittest suite passes (no-op outside longhaul, one JSON line per call, never raises when the supervisor is gone, atomic saves)', () => {
  const r = spawnSync('python3', ['-m', 'unittest', 'discover', '-s', 'python', '-v'], { cwd: ROOT, encoding: 'utf8' })
  expect(r.status, r.stderr).toBe(0)
  expect(r.stderr).toMatch(/Ran (\d+) tests/)
  expect(Number(/Ran (\d+) tests/.exec(r.stderr)![1])).toBeGreaterThanOrEqual(10)
})
