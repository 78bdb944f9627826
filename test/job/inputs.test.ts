import { appendFileSync, existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs'
import { join, relative } from 'node:path'
import { expect, it } from 'vitest'
import { FingerprintMismatchError } from '../../src/errors.ts'
import { runMapJob, verifyRun } from '../../src/index.ts'
import { fixture, runCli, tempDir } from '../support/cli.ts'

const root = tempDir()

function readOutput(dir: string): unknown[] {
  return readdirSync(join(dir, 'data'))
    .filter((name) => name.endsWith('.jsonl'))
    .sort()
    .flatMap((name) => readFileSync(join(dir, 'data', name), 'utf8').trim().split('\n').map((line) => JSON.parse(line)))
}

it('jsonl input: item i is made from line i, blank lines skipped; a resume after interruption gives the same output', async () => {
  const prompts = join(root, 'prompts.jsonl')
  writeFileSync(prompts, Array.from({ length: 300 }, (_, i) => JSON.stringify({ prompt: `say hello ${i}` }) + (i === 10 ? '\n\n' : '\n')).join(''))
  process.env.PROMPTS = prompts
  const whole = await runMapJob({ jobPath: fixture('prompts.ts'), outDir: join(root, 'p1'), workers: 2 })
  expect(whole.total).toBe(300)
  const records = readOutput(join(root, 'p1')) as { index: number; answer: string }[]
  expect(records[11]).toEqual({ index: 11, answer: 'SAY HELLO 11', words: 3 })
  expect(records.map((r) => r.index)).toEqual(Array.from({ length: 300 }, (_, i) => i))

  const controller = new AbortController()
  const partial = await runMapJob({
    jobPath: fixture('prompts.ts'), outDir: join(root, 'p2'), workers: 2, signal: controller.signal,
    observer: { committed: (p) => p.committed > 20 && controller.abort() },
  })
  expect(partial.state).toBe('interrupted')
  const resumed = await runMapJob({ jobPath: fixture('prompts.ts'), outDir: join(root, 'p2'), workers: 1 })
  expect(resumed.digest).toBe(whole.digest)

  // A changed input is a different job.
  appendFileSync(prompts, JSON.stringify({ prompt: 'one more' }) + '\n')
  await expect(runMapJob({ jobPath: fixture('prompts.ts'), outDir: join(root, 'p1'), workers: 1 })).rejects.toThrow(/input changed/)
  await expect(runMapJob({ jobPath: fixture('prompts.ts'), outDir: join(root, 'p1'), workers: 1 })).rejects.toBeInstanceOf(FingerprintMismatchError)
})

it('jsonl input: a line that is not JSON is refused before any work, naming the line', async () => {
  const bad = join(root, 'bad.jsonl')
  writeFileSync(bad, '{"prompt":"a"}\n\n\n{"prompt": oops}\n')
  // A child process, since this process has the job module (and its input path) loaded already.
  const result = await runCli(['run', fixture('prompts.ts'), '--out', join(root, 'bad')], { PROMPTS: bad })
  expect(result.code).toBe(2)
  expect(result.stderr).toMatch(/bad\.jsonl:4: not JSON/)
  expect(existsSync(join(root, 'bad'))).toBe(false)
})

it('csv input: rows keyed by the header, quoted fields spanning lines, index = row number', async () => {
  const csv = join(root, 'rows.csv')
  const rows = Array.from({ length: 120 }, (_, i) => `row${i},"${i % 7 === 0 ? 'multi\nline, quoted' : 'plain'}"`)
  writeFileSync(csv, `name,note\n${rows.join('\n')}\n`)
  process.env.ROWS = csv
  const summary = await runMapJob({ jobPath: fixture('rows.ts'), outDir: join(root, 'csv'), workers: 2 })
  expect(summary.total).toBe(120)
  const out = readOutput(join(root, 'csv')) as { index: number; name: string; noteLength: number }[]
  expect(out[14]).toEqual({ index: 14, name: 'row14', noteLength: 'multi\nline, quoted'.length })
  expect(out[15]).toEqual({ index: 15, name: 'row15', noteLength: 5 })
  expect((await verifyRun(join(root, 'csv'))).complete).toBe(true)
})

it('files input: one item per matching file, in sorted order', async () => {
  const folder = join(root, 'files')
  mkdirSync(folder)
  for (const i of [3, 1, 2]) writeFileSync(join(folder, `f${i}.txt`), 'x'.repeat(i))
  writeFileSync(join(folder, 'skip.bin'), 'no')
  process.env.FILES = `${relative(process.cwd(), folder)}/*.txt`
  await runMapJob({ jobPath: fixture('sizes.ts'), outDir: join(root, 'sizes'), workers: 1 })
  const out = readOutput(join(root, 'sizes')) as { name: string; bytes: number }[]
  expect(out.map((o) => [o.name.split('/').at(-1), o.bytes])).toEqual([['f1.txt', 1], ['f2.txt', 2], ['f3.txt', 3]])
})
