/** What a run must never do to the user's files, a live owner, or its own output, whatever goes wrong. */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { expect, it } from 'vitest'
import { RunOwnedError } from '../../src/errors.ts'
import { runMapJob, verifyRun } from '../../src/index.ts'
import { SqliteStore } from '../../src/journal/sqlite/sqliteStore.ts'
import { fixture, runCli, runCliHere, startCli, tempDir } from '../support/cli.ts'

const root = tempDir()

it('a new run never deletes files it did not write: a data/ folder that holds files is refused', async () => {
  const out = join(root, 'mine')
  mkdirSync(join(out, 'data', 'raw'), { recursive: true })
  writeFileSync(join(out, 'data', 'train.csv'), 'precious')
  const result = await runCliHere(['run', fixture('squares.ts'), '--out', out, '--total', '10'])
  expect(result.code).toBe(2)
  expect(result.stderr).toMatch(/data already holds files, and no longhaul run is recorded/)
  expect(readFileSync(join(out, 'data', 'train.csv'), 'utf8')).toBe('precious')
})

it('one-owner: --fresh refuses to move a run that a live process owns', async () => {
  const out = join(root, 'live')
  const args = ['run', fixture('squares.ts'), '--out', out, '--total', '400', '--workers', '1']
  const { child, done } = startCli(args, { ITEM_MS: '20' })
  await new Promise<void>((resolve) =>
    child.stderr!.on('data', (chunk: Buffer) => chunk.toString().includes('items →') && resolve()),
  )
  await expect(
    runMapJob({ jobPath: fixture('squares.ts'), outDir: out, total: 400, workers: 1, fresh: true }),
  ).rejects.toBeInstanceOf(RunOwnedError)
  child.kill('SIGKILL')
  await done
  expect(existsSync(join(out, '.longhaul', 'journal.sqlite'))).toBe(true)
})

it('a job that cannot start in a worker thread fails the run with a clear message (exit 1), recorded as failed', async () => {
  const out = join(root, 'wthrow')
  const result = await runCliHere(['run', fixture('worker-throw.ts'), '--out', out])
  expect(result.code).toBe(1)
  expect(result.stderr).toMatch(/a worker thread failed: this job cannot start in a worker thread/)
  expect(result.stderr).not.toMatch(/internal error/)
  const store = SqliteStore.open(join(out, '.longhaul', 'journal.sqlite'), { readonly: true })
  expect((await store.getRun())?.state).toBe('failed')
  await store.close()
})

it('a job that reads a file next to itself (import.meta.url) finds it from the worker threads too', async () => {
  const summary = await runMapJob({ jobPath: fixture('template.ts'), outDir: join(root, 'template'), workers: 2 })
  expect(summary.state).toBe('complete')
  const first = readFileSync(join(root, 'template', 'data', '000000000000-000000000001.jsonl'), 'utf8')
  expect(JSON.parse(first)).toEqual({ text: 'item number 0' })
})

it('atomic-commit: an npy item with a bad field leaves the shard well-formed; the resumed output verifies', async () => {
  const out = join(root, 'half')
  const failed = await runCli(['run', fixture('half-record.ts'), '--out', out, '--workers', '1'], { FAIL_AT: '37' })
  expect(failed.code).toBe(1)
  expect(failed.stderr).toMatch(/item 37 field 'label' is missing/)
  expect((await verifyRun(out)).corrupt).toBe(0)
  const resumed = await runCliHere(['run', fixture('half-record.ts'), '--out', out, '--workers', '1'])
  expect(resumed.code).toBe(0)
  expect(await verifyRun(out)).toMatchObject({ complete: true, corrupt: 0 })
})

it('Ctrl-C while items are failing and being retried interrupts the run (130), it does not fail it', async () => {
  const markers = join(root, 'markers')
  mkdirSync(markers)
  const out = join(root, 'throttled')
  const { child, done } = startCli(
    ['run', fixture('throttled.ts'), '--out', out, '--workers', '2', '--progress-every', '1'],
    { MARKERS: markers },
  )
  await new Promise<void>((resolve) =>
    child.stderr!.on('data', (chunk: Buffer) => / [1-9][\d,]*\/400/.test(chunk.toString()) && resolve()),
  )
  child.kill('SIGINT')
  const result = await done
  expect(result.stderr).not.toMatch(/failed after/)
  expect(result.code).toBe(130)
})

it('jsonl input: a byte-order mark is skipped; a non-JSON space at a line end is a clear input error (exit 2)', async () => {
  const bom = join(root, 'bom.jsonl')
  writeFileSync(
    bom,
    Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('{"prompt":"a b"}\n{"prompt":"c"}\n')]),
  )
  const ok = await runCli(['run', fixture('prompts.ts'), '--out', join(root, 'bom'), '--json'], { PROMPTS: bom })
  expect(ok.code).toBe(0)
  expect(JSON.parse(ok.stdout).total).toBe(2)
  const nbsp = join(root, 'nbsp.jsonl')
  writeFileSync(nbsp, '{"prompt":"a"}\n{"prompt":"b"}\u00a0\n')
  const bad = await runCli(['run', fixture('prompts.ts'), '--out', join(root, 'nbsp')], { PROMPTS: nbsp })
  expect(bad.code).toBe(2)
  expect(bad.stderr).toMatch(/nbsp\.jsonl:2: not JSON/)
})
