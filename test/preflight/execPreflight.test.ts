import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { LONG, ROOT, runCliHere, tempDir } from '../support/cli.ts'

// A Python program that checkpoints every 5 steps through the protocol and resumes from --resume; `--bug` breaks its resume.
const PROGRAM = ['python3', join(ROOT, 'test/fixtures/exec/steps.py'), '--steps', '60']
const EXEC_OPTIONS = ['--total', '60', '--checkpoints', 'ckpt/*.json', '--resume-arg', '--resume {checkpoint}']

/** A policy that asks for a proof above 10 units of work, so that the program's --total 60 is above scale. */
function strictPolicy(): string {
  const config = join(tempDir(), 'longhaul.config.mjs')
  writeFileSync(config, 'export default { requireProofAbove: 10 }\n')
  return config
}

function preflightExec(out: string, config: string, program: readonly string[]) {
  return runCliHere([
    'preflight',
    '--exec',
    '--out',
    out,
    '--config',
    config,
    ...EXEC_OPTIONS,
    '--outputs',
    'out/*',
    '--',
    ...program,
  ])
}

describe('preflight --exec', () => {
  it('crash-resume and gate: a program whose resume is exact passes; exec above scale is refused without the proof (exit 3) and runs with it', async () => {
    const config = strictPolicy()
    const out = join(tempDir(), 'steps')
    const refused = await runCliHere(['exec', '--out', out, '--config', config, ...EXEC_OPTIONS, '--', ...PROGRAM])
    expect(refused.code).toBe(3)
    expect(refused.stderr).toMatch(/refused by the launch gate: 60 items is above the policy's requireProofAbove \(10/)
    expect(refused.stderr).toContain('npx longhaul preflight --exec --out')
    expect(existsSync(join(out, 'progress.json'))).toBe(false)

    const proved = await preflightExec(out, config, PROGRAM)
    expect(proved.stdout).toMatch(/PREFLIGHT PASSED {2}steps \(exec\), total 60/)
    expect(proved.code).toBe(0)
    expect(proved.stdout).toMatch(/✔ crashKills +5 +[23] SIGKILLs/)
    expect(readFileSync(join(out, 'proofs/PREFLIGHT.md'), 'utf8')).toContain('# Preflight PASSED: steps')

    // A proof for 60 does not cover more.
    const more = await runCliHere([
      'exec',
      '--out',
      out,
      '--config',
      config,
      ...EXEC_OPTIONS,
      '--total',
      '61',
      '--',
      ...PROGRAM,
    ])
    expect(more.code).toBe(3)
    expect(more.stderr).toMatch(/✘ its target covers this run \(proved for 60 items, this run has 61\)/)
    // The proved command runs, where its owner is (its outputs go to its working folder).
    const cwd = tempDir()
    const ran = await inFolder(cwd, () =>
      runCliHere(['exec', '--out', out, '--config', config, ...EXEC_OPTIONS, '--', ...PROGRAM]),
    )
    const gate = JSON.parse(readFileSync(join(out, 'progress.json'), 'utf8')).gate
    expect(gate).toMatchObject({ status: 'proved', target: 60 })
    // Without the proof, --skip-preflight runs it, and the waiver is recorded.
    const waived = join(tempDir(), 'waived')
    const skipped = await inFolder(tempDir(), () =>
      runCliHere(['exec', '--out', waived, '--config', config, '--skip-preflight', ...EXEC_OPTIONS, '--', ...PROGRAM]),
    )
    expect(skipped.code).toBe(0)
    expect(JSON.parse(readFileSync(join(waived, 'progress.json'), 'utf8')).gate).toMatchObject({ status: 'waived' })
    expect(ran.code).toBe(0)
    expect(readFileSync(join(cwd, 'out/result.txt'), 'utf8')).toMatch(/^60 [0-9a-f]{64}\n$/)
  }, 60_000)

  it.each(LONG ? ['skip', 'repeat'] : ['skip'])(
    'crash-resume: a program whose resume %ss a step fails, naming the requirement and the first differing output',
    async (bug) => {
      const out = join(tempDir(), 'steps')
      const failed = await preflightExec(out, strictPolicy(), [...PROGRAM, '--bug', bug])
      expect(failed.stdout).toMatch(/PREFLIGHT FAILED/)
      expect(failed.stdout).toContain(
        "crash-resume: outputs after SIGKILLs and resumes must be byte-identical to the uninterrupted run's — out/result.txt differs",
      )
      expect(failed.code).toBe(1)
      expect(existsSync(join(out, 'proofs/PREFLIGHT.md'))).toBe(true)
    },
    60_000,
  )
})

async function inFolder<T>(dir: string, f: () => Promise<T>): Promise<T> {
  const here = process.cwd()
  process.chdir(dir)
  try {
    return await f()
  } finally {
    process.chdir(here)
  }
}
