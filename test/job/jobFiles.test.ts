import { mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { describeChanges } from '../../src/job/fingerprint.ts'
import { hashJobFiles } from '../../src/job/jobFiles.ts'
import { preflightOn } from '../../src/preflight/preflight.ts'
import { identifyJob, identifyLoop } from '../../src/run/identify.ts'
import { runMapJob } from '../../src/work/map/runMapJob.ts'
import { recorded } from '../fixtures/evidence/record.ts'
import { ROOT, runCliHere } from '../support/cli.ts'

// Job folders inside the repository (so 'longhaul' and 'zod' resolve), named with a dot so no other test's glob sees them.
const base = join(ROOT, 'test/fixtures', `.job-files-${process.pid}`)
afterAll(() => rmSync(base, { recursive: true, force: true }))

function write(path: string, text: string): void {
  mkdirSync(join(path, '..'), { recursive: true })
  writeFileSync(path, text)
}

/** A TypeScript job that spawns a Python script in its own folder (once per process, as a job starts its model server or tool) and makes its items from the answer. */
function spawningJob(dir: string, files: string | undefined): string {
  write(join(dir, 'server.py'), 'print(2)\n')
  write(join(dir, 'prompts/a.txt'), 'first prompt\n')
  write(join(dir, 'prompts/b.txt'), 'second prompt\n')
  write(join(dir, 'longhaul.config.ts'), 'export default { requireProofAbove: 10, crashItems: 20, crashKills: 1 }\n')
  write(
    join(dir, 'job.ts'),
    [
      "import { execFileSync } from 'node:child_process'",
      "import { fileURLToPath } from 'node:url'",
      "import { defineJob, jsonl } from 'longhaul'",
      "const factor = Number(execFileSync('python3', [fileURLToPath(new URL('./server.py', import.meta.url))]).toString())",
      'export default defineJob({',
      "  name: 'spawns', total: 30, output: jsonl(),",
      ...(files === undefined ? [] : [`  files: ${files},`]),
      '  item: (i) => ({ i, y: i * factor }),',
      '})',
      '',
    ].join('\n'),
  )
  return join(dir, 'job.ts')
}

describe('fingerprint-covers-declared-files', () => {
  it('editing a declared file refuses the resume naming it, and voids the proof: the gate refuses (exit 3) saying the file changed since the proof', async () => {
    const dir = join(base, 'declared')
    const job = spawningJob(dir, "['server.py', 'prompts/*.txt']")
    const before = await identifyJob({ jobPath: job })
    expect(Object.keys(before.identity.sources)).toEqual([
      'job.ts',
      join('prompts', 'a.txt'),
      join('prompts', 'b.txt'),
      'server.py',
    ])

    // The proof is made as preflight makes it (its identity, under the job's policy), on the evidence a real
    // preflight gathered (its child runs are not repeated here: a whole preflight is proved end to end in
    // test/preflight/brokenJobs.test.ts and projection.test.ts).
    const proved = join(dir, 'runs/proved')
    const { evidence } = recorded('sound-1500')
    const preflight = await preflightOn({ jobPath: job, target: evidence.target, outDir: proved }, evidence)
    expect(preflight.passed, JSON.stringify(preflight.statement.predicate.checks)).toBe(true)
    const small = join(dir, 'runs/small')
    expect(await runMapJob({ jobPath: job, outDir: small, total: 5 })).toMatchObject({ state: 'complete' })

    write(join(dir, 'server.py'), 'print(3)\n')
    const resumed = await runCliHere(['run', job, '--out', small, '--total', '8'])
    expect(resumed.code).toBe(2)
    expect(resumed.stderr).toMatch(/LONGHAUL_FINGERPRINT_MISMATCH|holds a run of a different job/)
    expect(resumed.stderr).toContain('job code changed (server.py)')

    const gated = await runCliHere(['run', job, '--out', proved, '--total', String(evidence.target)])
    expect(gated.code, gated.stderr).toBe(3)
    expect(gated.stderr).toMatch(/✘ a proof for this exact job .* none: server\.py changed since the proof of \d{4}-/)

    // A file a glob declares counts as much as a named one.
    write(join(dir, 'prompts/b.txt'), 'second prompt, reworded\n')
    const after = await identifyJob({ jobPath: job })
    expect(describeChanges(before.identity, after.identity)).toEqual([
      `job code changed (${join('prompts', 'b.txt')}, server.py)`,
    ])
  })

  it('a declared file that does not exist is refused naming it; files: [] declares none', async () => {
    const job = spawningJob(join(base, 'missing'), "['server.py', 'sever.py']")
    await expect(identifyJob({ jobPath: job })).rejects.toThrow(
      /declares files: \['sever\.py'\], and .*sever\.py does not exist/,
    )
    const none = spawningJob(join(base, 'none'), '[]')
    expect(Object.keys((await identifyJob({ jobPath: none })).identity.sources)).toEqual(['job.ts'])
  })

  it('a loop declares its files the same way', async () => {
    const dir = join(base, 'loop')
    write(join(dir, 'step.sh'), 'echo 1\n')
    write(
      join(dir, 'loop.ts'),
      [
        "import { defineLoop } from 'longhaul'",
        "export default defineLoop({ name: 'loop', steps: 3, files: ['step.sh'], init: () => 0, step: (s: number) => s + 1,",
        '  save: (s: number) => new Uint8Array([s]), load: (b: Uint8Array) => b[0]! })',
        '',
      ].join('\n'),
    )
    const before = await identifyLoop({ jobPath: join(dir, 'loop.ts') })
    write(join(dir, 'step.sh'), 'echo 2\n')
    const after = await identifyLoop({ jobPath: join(dir, 'loop.ts') })
    expect(describeChanges(before.identity, after.identity)).toEqual(['job code changed (step.sh)'])
  })
})

describe('fingerprint-covers-scripts-beside-the-job', () => {
  it('by default the scripts beside the job are covered; data, subfolders, tests, the policy and run folders are not', async () => {
    const dir = join(base, 'default')
    const job = spawningJob(dir, undefined)
    write(join(dir, 'helper.sh'), 'echo hi\n')
    write(join(dir, 'notes.txt'), 'data, not code\n')
    write(join(dir, 'input.jsonl'), '{}\n')
    write(join(dir, 'job.test.ts'), "// the job's own tests\n")
    write(join(dir, 'data/huge.py'), '# a subfolder is not read by default\n')
    const before = await identifyJob({ jobPath: job })
    expect(Object.keys(before.identity.sources)).toEqual(['helper.sh', 'job.ts', 'server.py'])

    write(join(dir, 'server.py'), 'print(4)\n')
    const after = await identifyJob({ jobPath: job })
    expect(after.fingerprint).not.toBe(before.fingerprint)
    expect(describeChanges(before.identity, after.identity)).toEqual(['job code changed (server.py)'])
  })

  it("the fingerprint stays the same wherever --out is: beside the job, or the job's own folder", async () => {
    const dir = join(base, 'out-here')
    const job = spawningJob(dir, "['**/*.py', '**/*.json', '**/*.txt']")
    const before = await identifyJob({ jobPath: job })
    // Run in this process: the engine decides the fingerprint and refuses a changed one, whoever starts it.
    expect(await runMapJob({ jobPath: job, outDir: join(dir, 'runs/a'), total: 4 })).toMatchObject({
      state: 'complete',
    })
    expect(await runMapJob({ jobPath: job, outDir: dir, total: 4 })).toMatchObject({ state: 'complete' })
    // A run's files (progress.json, PROGRESS.txt, data/, .longhaul/) are never the job's, even when a glob would match them.
    write(join(dir, 'runs/a/data/stray.py'), 'x = 1\n')
    expect((await identifyJob({ jobPath: job })).fingerprint).toBe(before.fingerprint)
    expect(await runMapJob({ jobPath: job, outDir: dir, total: 4 })).toMatchObject({ state: 'complete' })
    // A folder beside the job that is not a run folder is read as declared.
    write(join(dir, 'tools/extra.py'), 'y = 2\n')
    expect(Object.keys(await hashJobFiles(job, ['**/*.py']))).toEqual(['server.py', join('tools', 'extra.py')])
  })
})
