/**
 * `longhaul init python`: a Python generator with its pytest test (longhaul.testing.expect_crash_safe), which passes
 * on the job and fails once the job breaks determinism. Scaffolded inside the repository, so that node_modules/longhaul
 * resolves as in a user's project; the tests run in pytest, in a process of its own, as a user's do.
 */
import { spawnSync } from 'node:child_process'
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, expect, it } from 'vitest'
import { ROOT, runCliHere } from '../support/cli.ts'

const dir = join(ROOT, 'test/fixtures', `.init-python-${process.pid}`)
afterAll(() => rmSync(dir, { recursive: true, force: true }))

function pytest(): { status: number | null; output: string } {
  const done = spawnSync('python3', ['-m', 'pytest', '-q', '-p', 'no:cacheprovider', 'test_gen.py'], {
    cwd: dir,
    encoding: 'utf8',
    env: { ...process.env, PYTHONDONTWRITEBYTECODE: '1' },
  })
  return { status: done.status, output: done.stdout + done.stderr }
}

it('init python: a Python job and its pytest crash test, which passes on it and fails when the job breaks determinism', async () => {
  const made = await runCliHere(['init', 'python', '--dir', dir, '--name', 'scaffolded-py'])
  expect(made.code, made.stderr).toBe(0)
  expect(made.stdout).toContain('python3 -m pytest')
  for (const file of ['gen.py', 'test_gen.py', 'conftest.py', 'longhaul.config.ts'])
    expect(existsSync(join(dir, file))).toBe(true)
  expect(readFileSync(join(dir, 'gen.py'), 'utf8')).toContain('name="scaffolded-py"')
  const passing = pytest()
  expect(passing.status, passing.output).toBe(0)
  expect(passing.output).toMatch(/1 passed/)

  const job = join(dir, 'gen.py')
  writeFileSync(job, readFileSync(job, 'utf8').replace('float(ctx.rng.normal(0, 1))', '__import__("random").random()'))
  // A job drawing from random.random() differs from its uninterrupted run after any number of kills: one is enough for
  // the crash test to catch it (three lives and their resumes fewer than the scaffold's kills=3).
  const test = join(dir, 'test_gen.py')
  const scaffolded = readFileSync(test, 'utf8')
  expect(scaffolded).toContain('kills=3')
  writeFileSync(test, scaffolded.replace('kills=3', 'kills=1'))
  const failing = pytest()
  expect(failing.status).not.toBe(0)
  expect(failing.output).toMatch(/AssertionError: determinism: /)
}, 240_000)
