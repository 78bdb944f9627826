import { spawnSync } from 'node:child_process'
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { LONG, ROOT, runCliHere, tempDir } from '../support/cli.ts'

// Scaffolded inside the repository, so that 'longhaul' and 'zod' resolve as they do in a user's project. `init` itself runs
// in this process (the CLI's main); the scaffolded jobs run and are tested in processes of their own, as a user's are.
const base = join(ROOT, 'test/fixtures', `.init-${process.pid}`)
afterAll(() => rmSync(base, { recursive: true, force: true }))

function nodeTest(dir: string, ...options: string[]) {
  return spawnSync(process.execPath, ['--import', 'tsx', '--test', ...options, 'job.test.ts'], {
    cwd: dir,
    encoding: 'utf8',
    env: { ...process.env, NO_COLOR: '1' },
  })
}

describe('init', () => {
  it('init generator: a job, its non-functional tests and a policy file; the tests pass on it', async () => {
    const dir = join(base, 'gen')
    const made = await runCliHere(['init', 'generator', '--dir', dir, '--name', 'scaffolded'])
    expect(made.code, made.stderr).toBe(0)
    for (const file of ['job.ts', 'job.test.ts', 'longhaul.config.ts']) expect(existsSync(join(dir, file))).toBe(true)
    expect(readFileSync(join(dir, 'job.ts'), 'utf8')).toContain("name: 'scaffolded'")
    const passing = nodeTest(dir)
    expect(passing.status, passing.stdout + passing.stderr).toBe(0)
    expect(passing.stdout).toMatch(/# pass 3/)
  }, 240_000)

  // The determinism verdict that goes red here is proved in every run on recorded evidence (verdicts.test.ts, Math.random);
  // this runs it through the template's crash test, a second full crash rehearsal: test:long.
  it.runIf(LONG)(
    'init generator: its crash test fails when the job breaks determinism (the other two do not look at the items)',
    async () => {
      const dir = join(base, 'gen-broken')
      expect((await runCliHere(['init', 'generator', '--dir', dir, '--name', 'scaffolded'])).code).toBe(0)
      const job = join(dir, 'job.ts')
      writeFileSync(job, readFileSync(job, 'utf8').replace('ctx.rng.next()', 'Math.random()'))
      const failing = nodeTest(dir, '--test-name-pattern', 'crash-safe')
      expect(failing.status).not.toBe(0)
      expect(failing.stdout).toMatch(/determinism: .* made different items/)
    },
    240_000,
  )

  it('init loop: a training loop and its tests, which pass on it', async () => {
    const dir = join(base, 'loop')
    const made = await runCliHere(['init', 'loop', '--dir', dir, '--name', 'trainer'])
    expect(made.code, made.stderr).toBe(0)
    // In this process: what is checked is that the template runs; its crash test below kills real processes.
    const ran = await runCliHere([
      'run',
      join(dir, 'job.ts'),
      '--out',
      join(tempDir(), 'run'),
      '--total',
      '500',
      '--json',
    ])
    expect(ran.code, ran.stderr).toBe(0)
    expect(JSON.parse(ran.stdout)).toMatchObject({ state: 'complete', total: 500, kind: 'loop' })
    const passing = nodeTest(dir)
    expect(passing.status, passing.stdout + passing.stderr).toBe(0)
    expect(passing.stdout).toMatch(/# pass 3/)
  }, 240_000)

  // The check that goes red here is proved in CI by test/preflight/loopPreflight.test.ts (hidden-state); this runs it through the template.
  it.runIf(LONG)(
    'init loop: its crash test fails when a step keeps state outside save()',
    async () => {
      const dir = join(base, 'loop')
      // A learning rate kept in a module variable and decayed at every step: after a crash it starts over.
      const job = join(dir, 'job.ts')
      const broken = readFileSync(job, 'utf8')
        .replace('const TRUE_WEIGHTS', 'let decay = 1\nconst TRUE_WEIGHTS')
        .replace(
          'weights[j]! -= ctx.params.lr * gradient[j]!',
          'weights[j]! -= ctx.params.lr * (decay *= 0.9999) * gradient[j]!',
        )
      expect(broken).toContain('decay *= 0.9999')
      writeFileSync(job, broken)
      const failing = nodeTest(dir, '--test-name-pattern', 'crash-safe')
      expect(failing.status).not.toBe(0)
      expect(failing.stdout).toMatch(/final state differs from the uninterrupted run's/)
    },
    240_000,
  )

  it('init input: a job over the records of a file that runs to completion', async () => {
    const dir = join(base, 'input')
    expect((await runCliHere(['init', 'input', '--dir', dir])).code).toBe(0)
    const ran = await runCliHere(['run', join(dir, 'job.ts'), '--out', join(tempDir(), 'run'), '--json'])
    expect(ran.code, ran.stderr).toBe(0)
    expect(JSON.parse(ran.stdout)).toMatchObject({ state: 'complete', total: 200 })
  }, 60_000)

  it('init refuses to overwrite files, and names the templates it has', async () => {
    const dir = join(base, 'gen')
    const clash = await runCliHere(['init', 'generator', '--dir', dir])
    expect(clash.code).toBe(2)
    expect(clash.stderr).toMatch(/job\.ts, .*job\.test\.ts already exist; choose another --dir, or pass --force/)
    const unknown = await runCliHere(['init', 'pipeline', '--dir', join(base, 'x')])
    expect(unknown.code).toBe(2)
    expect(unknown.stderr).toMatch(/no template 'pipeline'; choose one of: generator, input, loop/)
  })
})
