import { cpSync, existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'
import { runPaths } from '../../src/files/runDir.ts'
import { SqliteStore } from '../../src/journal/sqlite/sqliteStore.ts'
import type { RunEvent } from '../../src/journal/store.ts'
import { type ExecEvidence, type ExecRunEvidence, judgeExec } from '../../src/preflight/execSuite.ts'
import { policySchema } from '../../src/preflight/policy.ts'
import type { PreflightPredicate } from '../../src/preflight/proof.ts'
import { type CliResult, LONG, ROOT, runCliHere, tempDir } from '../support/cli.ts'

// A Python program that checkpoints every 5 steps through the protocol and resumes from --resume; `--bug` breaks its resume.
const STEPS = join(ROOT, 'test/fixtures/exec/steps.py')
const PROGRAM = ['python3', STEPS, '--steps', '60']
// The same at 2 ms a step, where the pace does not matter (no kill, no proof of that command).
const FAST = [...PROGRAM, '--step-delay', '0.002']
const EXEC_OPTIONS = ['--total', '60', '--checkpoints', 'ckpt/*.json', '--resume-arg', '--resume {checkpoint}']

/** A policy that asks for a proof above 10 units of work, so that the program's --total 60 is above scale, and kills it 4 times. */
function strictPolicy(more = ''): string {
  const config = join(tempDir(), 'longhaul.config.mjs')
  writeFileSync(config, `export default { requireProofAbove: 10, crashKills: 4${more} }\n`)
  return config
}

function preflightExec(
  out: string,
  config: string,
  program: readonly string[],
  options: readonly string[] = [...EXEC_OPTIONS, '--outputs', 'out/*'],
) {
  return runCliHere(['preflight', '--exec', '--out', out, '--config', config, ...options, '--', ...program])
}

/** The predicate of the proof (passing or failed) preflight wrote in `out`. */
function proofIn(out: string): PreflightPredicate {
  const dir = join(out, 'proofs')
  const file = readdirSync(dir).find((name) => name.endsWith('.intoto.jsonl'))!
  return JSON.parse(readFileSync(join(dir, file), 'utf8')).predicate
}

describe('preflight --exec', () => {
  // One preflight of PROGRAM under the strict policy, whose proof both gate tests copy into their run's folder (the gate
  // reads the proofs in the run's folder, for the command and the policy's rules): one preflight instead of two.
  let config: string
  let proved: CliResult
  let provedDir: string
  beforeAll(async () => {
    config = strictPolicy()
    provedDir = join(tempDir(), 'proved')
    proved = await preflightExec(provedDir, config, PROGRAM)
  }, 60_000)
  /** `out` with the proof of PROGRAM in it, as if preflight had been run there. */
  const withProof = (out: string): string => {
    cpSync(join(provedDir, 'proofs'), join(out, 'proofs'), { recursive: true })
    return out
  }

  it('crash-resume and gate: a program whose resume is exact passes; exec above scale is refused without the proof (exit 3) and runs with it', async () => {
    const out = join(tempDir(), 'steps')
    const refused = await runCliHere(['exec', '--out', out, '--config', config, ...EXEC_OPTIONS, '--', ...PROGRAM])
    expect(refused.code).toBe(3)
    expect(refused.stderr).toMatch(/refused by the launch gate: 60 items is above the policy's requireProofAbove \(10/)
    expect(refused.stderr).toContain('npx longhaul preflight --exec --out')
    expect(existsSync(join(out, 'progress.json'))).toBe(false)

    expect(proved.stdout).toMatch(/PREFLIGHT PASSED {2}steps \(exec\), total 60/)
    expect(proved.code).toBe(0)
    // crashKills: as many SIGKILLs as the policy asks, each life resumed.
    expect(proved.stdout).toMatch(/✔ crashKills +4 +4 SIGKILLs over 5 lives/)
    // Without a {total} or {fraction} argument, no rehearsal: said plainly.
    expect(proved.stdout).toMatch(
      /✔ rehearsalFraction +0\.1 +no rehearsal was possible: the command has no \{total\} or \{fraction\} argument/,
    )
    expect(readFileSync(join(provedDir, 'proofs/PREFLIGHT.md'), 'utf8')).toContain('# Preflight PASSED: steps')
    withProof(out)

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
    // Without a proof, --skip-preflight runs a command above scale, and the waiver is recorded (its pace does not matter).
    const waived = join(tempDir(), 'waived')
    const skipped = await inFolder(tempDir(), () =>
      runCliHere(['exec', '--out', waived, '--config', config, '--skip-preflight', ...EXEC_OPTIONS, '--', ...FAST]),
    )
    expect(skipped.code).toBe(0)
    expect(JSON.parse(readFileSync(join(waived, 'progress.json'), 'utf8')).gate).toMatchObject({ status: 'waived' })
    expect(ran.code).toBe(0)
    expect(readFileSync(join(cwd, 'out/result.txt'), 'utf8')).toMatch(/^60 [0-9a-f]{64}\n$/)
  }, 60_000)

  it('gate: exec without --total is refused (exit 3) once the program states a total above scale, stopped at once and the refusal journaled; one that states none is not gated; with the proof it runs', async () => {
    const out = join(tempDir(), 'steps')
    const resumes = EXEC_OPTIONS.slice(2)
    const cwd = tempDir()
    const refused = await inFolder(cwd, () =>
      runCliHere(['exec', '--out', out, '--config', config, ...resumes, '--', ...PROGRAM]),
    )
    expect(refused.code).toBe(3)
    expect(refused.stderr).toMatch(/the program states a total of 60: refused by the launch gate; stopping it/)
    expect(refused.stderr).toMatch(/refused by the launch gate: 60 items is above the policy's requireProofAbove \(10/)
    expect(refused.stderr).toContain('npx longhaul preflight --exec --out')
    expect(existsSync(join(cwd, 'out/result.txt'))).toBe(false)
    const events = await journalOf(out)
    expect(events.find((e) => e.type === 'gate-refused')?.detail).toMatchObject({ total: 60, learned: true })
    expect(events.find((e) => e.type === 'program-exited')?.detail).toMatchObject({ signal: 'SIGTERM' })
    expect(events.at(-1)?.type).toBe('failed')

    // A program that never states a total is not gated: there is nothing to compare with the policy.
    const silent = join(tempDir(), 'steps')
    const ungated = await inFolder(tempDir(), () =>
      runCliHere(['exec', '--out', silent, '--config', config, ...resumes, '--', ...FAST, '--no-total']),
    )
    expect(ungated.code, ungated.stderr).toBe(0)
    expect((await journalOf(silent)).map((e) => e.type)).not.toContain('gate-refused')

    expect(proved.code).toBe(0)
    const proof = withProof(join(tempDir(), 'steps'))
    const ran = await inFolder(cwd, () =>
      runCliHere(['exec', '--out', proof, '--config', config, ...resumes, '--', ...PROGRAM]),
    )
    expect(ran.code, ran.stderr).toBe(0)
    expect((await journalOf(proof)).find((e) => e.type === 'gate-proved')?.detail).toMatchObject({
      total: 60,
      learned: true,
    })
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

describe('preflight --exec: rehearsal, checkpoint files, outputs', () => {
  it("rehearsal: a command sized by {total} is rehearsed at the policy's rehearsalFraction of --target; the target's duration and outputs are projected, and the proof is for the command at the target", async () => {
    const out = join(tempDir(), 'steps')
    const options = ['--checkpoints', 'ckpt/*.json', '--resume-arg', '--resume {checkpoint}', '--outputs', 'out/*']
    const config = strictPolicy(', rehearsalFraction: 0.1')
    const sized = ['python3', STEPS, '--steps', '{total}']
    const proved = await preflightExec(out, config, sized, ['--target', '600', ...options])
    expect(proved.code, proved.stdout + proved.stderr).toBe(0)
    expect(proved.stdout).toMatch(
      /✔ rehearsalFraction +0\.1 +60 \(10\.0% of the target 600\) in .*; the target \(600 of its units\) projects to /,
    )
    expect(proved.stdout).toMatch(/\n {2}projected {2}.+ for 600 units, start-up included; outputs 680 B\n/)
    expect(proved.stdout).toContain(`--steps 600`)
    expect(readFileSync(join(out, 'proofs/PREFLIGHT.md'), 'utf8')).toMatch(/- Projected duration: .+ for 600 units/)
    const p = proofIn(out)
    const m = p.checks.find((c) => c.id === 'rehearsal')!.measurements
    expect(m).toMatchObject({ rehearsed: true, items: 60, fraction: 0.1, outputBytes: 68, projectedOutputBytes: 680 })
    // 60 steps at 20 ms each took over a second: 600 take over ten, and the interval holds the figure.
    expect(m.projectedSeconds as number).toBeGreaterThan(10)
    expect(m.projectedLowSeconds as number).toBeLessThanOrEqual(m.projectedSeconds as number)
    expect(m.projectedHighSeconds as number).toBeGreaterThanOrEqual(m.projectedSeconds as number)
    expect(p.params).toMatchObject({ command: ['python3', STEPS, '--steps', '600'] })
    expect(p.target).toBe(600)
    // --json carries the same projection.
    const json = await preflightExec(join(tempDir(), 'steps'), config, sized, ['--target', '600', ...options, '--json'])
    const shown = JSON.parse(json.stdout)
    expect(shown.execCommand).toMatch(/--steps 600$/)
    expect(shown.projection).toMatchObject({ outputBytes: 680 })
    expect(shown.projection.lowSeconds).toBeLessThanOrEqual(shown.projection.highSeconds)
  }, 60_000)

  // One passing preflight serves the next two tests: a program that reports no checkpoints (judged and killed by its
  // checkpoint files) and writes its result to an absolute path (compared through an absolute --outputs glob).
  let dest: string
  let unreported: CliResult
  const resultAt = (): string[] => [...PROGRAM, '--result', join(dest, 'result.txt')]
  const absolute = (glob: string) => [...EXEC_OPTIONS, '--outputs', glob]
  beforeAll(async () => {
    dest = tempDir()
    const program = [...resultAt(), '--unreported']
    unreported = await preflightExec(join(tempDir(), 'steps'), strictPolicy(), program, absolute(join(dest, '*.txt')))
  }, 60_000)

  it('checkpoint-cadence: a program that reports no checkpoints is judged, and killed, by when its --checkpoints files appear', () => {
    expect(unreported.stdout).toMatch(
      /✔ maxLostWorkSeconds +300 +1[01] checkpoints in the uninterrupted run \(files written, by their mtime\)/,
    )
    expect(unreported.stdout).toMatch(/✔ crashKills +4 +4 SIGKILLs over 5 lives/)
    expect(unreported.code).toBe(0)
  })

  it('crash-resume: --outputs may be an absolute glob (compared, then removed); one matching nothing after the uninterrupted run, or files already there, is refused naming it', async () => {
    const program = resultAt()
    expect(unreported.code, unreported.stdout).toBe(0)
    expect(unreported.stdout).toMatch(/1 output files against 1 uninterrupted|✔ crashKills/)
    expect(readdirSync(dest)).toEqual([])

    const none = await preflightExec(
      join(tempDir(), 'steps'),
      strictPolicy(),
      program,
      absolute(join(dest, 'model-*.npz')),
    )
    expect(none.code).toBe(1)
    expect(none.stdout).toContain(
      'crash-resume: --outputs must match the files the program writes (a glob relative to its working folder, or absolute) — none matched after the uninterrupted run',
    )

    writeFileSync(join(dest, 'result.txt'), 'an earlier run\n')
    const there = await preflightExec(join(tempDir(), 'steps'), strictPolicy(), program, absolute(join(dest, '*.txt')))
    expect(there.code).toBe(2)
    expect(there.stderr).toContain(
      `--outputs ${join(dest, '*.txt')} already matches 1 file (${join(dest, 'result.txt')})`,
    )
  }, 90_000)
})

describe('preflight --exec on examples/python-training', () => {
  it.runIf(LONG)(
    "crash-resume: the training example, SIGKILLed the policy's crashKills (5) times and resumed from its checkpoints, ends with the same model.npz",
    async () => {
      const data = join(tempDir(), 'trajectories')
      const made = await runCliHere(['run', 'examples/trajectories/job.ts', '--out', data, '--total', '1000'])
      expect(made.code, made.stderr).toBe(0)
      const out = join(tempDir(), 'training-exec')
      const proved = await runCliHere([
        'preflight',
        '--exec',
        '--out',
        out,
        '--total',
        '60',
        '--checkpoints',
        'training/checkpoints/*.npz',
        '--resume-arg',
        '--resume {checkpoint}',
        '--outputs',
        'training/model.npz',
        '--',
        'python3',
        join(ROOT, 'examples/python-training/train.py'),
        '--data',
        data,
        '--out',
        'training',
        '--epochs',
        '60',
      ])
      expect(proved.stdout).toMatch(/PREFLIGHT PASSED {2}train \(exec\)/)
      expect(proved.stdout).toMatch(/✔ crashKills +5 +5 SIGKILLs/)
      expect(proved.code).toBe(0)
    },
    120_000,
  )
})

describe('judging preflight --exec evidence', () => {
  const policy = policySchema.parse({
    maxLostWorkSeconds: 5,
    progressMaxStaleSeconds: 3,
    progressEverySeconds: 1,
    heartbeatSeconds: 1,
  })
  const run = (over: Partial<ExecRunEvidence> = {}): ExecRunEvidence => ({
    state: 'complete',
    error: null,
    lives: 1,
    kills: 0,
    durationMs: 10_000,
    outputs: [{ path: 'out/result.txt', sha256: 'a'.repeat(64), bytes: 100 }],
    checkpointsAtMs: [2_000, 4_000, 6_000, 8_000],
    progressAtMs: [1_000, 2_000, 3_000, 4_000, 5_000, 6_000, 7_000, 8_000, 9_000],
    tail: '',
    ...over,
  })
  const evidence = (
    reference: ExecRunEvidence,
    crashed: ExecRunEvidence = run({ kills: 3, lives: 4 }),
  ): ExecEvidence => ({
    kind: 'exec',
    target: 60,
    killSeed: 0,
    plannedKills: 3,
    reference,
    crashed,
  })
  const failures = (e: ExecEvidence): string[] => judgeExec(policy, e).flatMap((c) => c.failures)

  it('crash-resume, checkpoint-cadence, progress-freshness: sound evidence passes every check', () => {
    expect(failures(evidence(run()))).toEqual([])
  })

  it('checkpoint-cadence: a stretch without a checkpoint longer than maxLostWorkSeconds fails, naming the rule', () => {
    expect(failures(evidence(run({ checkpointsAtMs: [2_000, 8_000] })))).toEqual([
      'checkpoint-cadence: a crash may lose at most 5 s of work (maxLostWorkSeconds) — 6.0 s passed without a checkpoint',
    ])
    expect(failures(evidence(run({ checkpointsAtMs: [] }))).join()).toMatch(/must report each durable checkpoint/)
  })

  it('progress-freshness: progress standing still longer than progressMaxStaleSeconds fails, naming the rule', () => {
    expect(failures(evidence(run({ progressAtMs: [1_000, 5_000, 9_000] })))).toEqual([
      'progress-freshness: progress may be at most 3 s old (progressMaxStaleSeconds) — it did not move for 4.0 s',
    ])
  })

  it('checkpoint-cadence: without checkpoint events, the moments its checkpoint files appeared are judged', () => {
    const files = (at: number[]) => run({ checkpointsAtMs: [], checkpointFilesAtMs: at })
    expect(failures(evidence(files([2_000, 4_000, 6_000, 8_000])))).toEqual([])
    expect(failures(evidence(files([2_000, 8_000])))).toEqual([
      'checkpoint-cadence: a crash may lose at most 5 s of work (maxLostWorkSeconds) — 6.0 s passed without a checkpoint',
    ])
    expect(failures(evidence(files([]))).join()).toMatch(
      /or write it where --checkpoints GLOB finds it — it did neither/,
    )
  })

  it("crash-resume: fewer kills than the policy's crashKills landed, or an output missing after the crashes, fails naming it", () => {
    expect(failures(evidence(run(), run({ kills: 2, lives: 3 }))).join()).toMatch(
      /must be killed 3 times \(crashKills\) to prove its resume — only 2 SIGKILLs landed/,
    )
    expect(failures(evidence(run(), run({ kills: 3, lives: 4, outputs: [] })))).toEqual([
      "crash-resume: outputs after SIGKILLs and resumes must be byte-identical to the uninterrupted run's — out/result.txt is missing (its resume skips, repeats or changes work)",
    ])
  })
})

async function journalOf(dir: string): Promise<RunEvent[]> {
  const store = SqliteStore.open(runPaths(dir).journal, { readonly: true })
  try {
    return await store.events()
  } finally {
    await store.close()
  }
}

async function inFolder<T>(dir: string, f: () => Promise<T>): Promise<T> {
  const here = process.cwd()
  process.chdir(dir)
  try {
    return await f()
  } finally {
    process.chdir(here)
  }
}
