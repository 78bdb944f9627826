/**
 * Input-driven Python jobs (`input=longhaul.jsonl_input(path)`, csv_input, files_input): one item per record, made by
 * item(record, ctx) with ctx.index the record number; the runner reads each range's records with the same readers as a
 * TypeScript input job and sends them over the worker's channel. The input's digest, and the interpreter's and numpy's
 * versions, are part of the job's fingerprint.
 */
import { spawnSync } from 'node:child_process'
import { appendFileSync, cpSync, readdirSync, readFileSync, truncateSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { expect, it } from 'vitest'
import { FingerprintMismatchError, jsonlInput, runMapJob, UsageError } from '../../src/index.ts'
import { taskMessage } from '../../src/work/map/pythonProtocol.ts'
import { ROOT, tempDir } from '../support/cli.ts'

const INPUTS = join(ROOT, 'test/fixtures/python/inputs')

/** The committed records of the run in `out`, in index order. */
function records(out: string): Record<string, unknown>[] {
  const data = join(out, 'data')
  return readdirSync(data)
    .filter((name) => name.endsWith('.jsonl'))
    .sort()
    .flatMap((name) =>
      readFileSync(join(data, name), 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((line) => JSON.parse(line) as Record<string, unknown>),
    )
}

it('determinism: a Python input job makes one item per JSONL record, from item(record, ctx) with ctx.index the record number, with the same digest on 1 and 3 workers', async () => {
  const root = tempDir()
  const job = join(INPUTS, 'prompts.py')
  const one = await runMapJob({ jobPath: job, outDir: join(root, 'one'), workers: 1 })
  const three = await runMapJob({ jobPath: job, outDir: join(root, 'three'), workers: 3 })
  expect(one).toMatchObject({ state: 'complete', total: 60, committed: 60 })
  expect(three.digest).toBe(one.digest)
  const made = records(join(root, 'three'))
  expect(made.map((r) => r.i)).toEqual([...Array(60).keys()])
  expect(made[4]).toMatchObject({ i: 4, prompt: 'tell me a long story number 4', words: 7 })
  expect(made[5]).toMatchObject({ i: 5, prompt: 'hi 5', words: 2 })
})

it('a Python input job reads CSV rows as TypeScript does (quoted commas and line breaks; values are strings) and a files input as {path, name} in sorted order', async () => {
  const root = tempDir()
  await runMapJob({ jobPath: join(INPUTS, 'rows.py'), outDir: join(root, 'rows'), workers: 2 })
  expect(records(join(root, 'rows'))).toEqual([
    { i: 0, name: 'alpha', size: 2 },
    { i: 1, name: 'be, ta', size: 4 },
    { i: 2, name: 'gamma', size: 6 },
    { i: 3, name: 'del\nta', size: 8 },
  ])
  await runMapJob({ jobPath: join(INPUTS, 'listed.py'), outDir: join(root, 'listed') })
  expect(records(join(root, 'listed')).map((r) => r.base)).toEqual(['prompts.jsonl', 'rows.csv'])
})

it('same-job-or-refuse: a resume after a Python job’s input file changed is refused, naming the file; a --total above the record count is refused', async () => {
  const dir = tempDir()
  cpSync(INPUTS, join(dir, 'job'), { recursive: true })
  const job = join(dir, 'job', 'prompts.py')
  const out = join(dir, 'out')
  expect((await runMapJob({ jobPath: job, outDir: out, total: 30 })).state).toBe('complete')
  appendFileSync(join(dir, 'job', 'prompts.jsonl'), '{"prompt": "one more"}\n')
  const refused = await runMapJob({ jobPath: job, outDir: out, total: 30 }).catch((error: unknown) => error)
  expect(refused).toBeInstanceOf(FingerprintMismatchError)
  expect((refused as Error).message).toContain(
    `input changed (${join(dir, 'job', 'prompts.jsonl')}: its content or location differs)`,
  )
  const above = await runMapJob({ jobPath: job, outDir: join(dir, 'other'), total: 62 }).catch((error) => error)
  expect(above).toBeInstanceOf(UsageError)
  expect((above as Error).message).toContain('--total 62 is more than the 61 records of the input')
})

it('no-loss, no-duplicates, atomic-commit: a Python input job SIGKILLed at commits and at seeded moments resumes to every record once, with the uninterrupted digest', () => {
  const script = `import longhaul
report = longhaul.testing.expect_crash_safe(${JSON.stringify(join(INPUTS, 'prompts.py'))}, total=60, kills=2)
print(report["items"], report["duplicates"], report["kills"])`
  const done = spawnSync('python3', ['-c', script], {
    env: { ...process.env, PYTHONPATH: join(ROOT, 'python') },
    encoding: 'utf8',
    timeout: 300_000,
  })
  expect({ code: done.status, stdout: done.stdout }, done.stderr).toEqual({ code: 0, stdout: '60 0 2\n' })
})

it('a Python input job’s range whose records can no longer be read (the input cut short during the run) fails as an input failure, not sent to a worker', async () => {
  const file = join(tempDir(), 'prompts.jsonl')
  writeFileSync(file, '{"p": 1}\n{"p": 2}\n{"p": 3}\n')
  const input = jsonlInput(file)
  const read = input.reader((await input.scan()).handle)
  const task = { start: 1, end: 3, token: 7, checkpointMs: 1000, maxBytes: 1 << 20 }
  expect(taskMessage(task, read)).toEqual({ type: 'task', ...task, records: [{ p: 2 }, { p: 3 }] })
  truncateSync(file, 12)
  expect(taskMessage(task, read)).toMatchObject({
    type: 'result',
    start: 1,
    end: 1,
    failure: { kind: 'input', message: expect.stringContaining('was it changed during the run?') },
  })
})
