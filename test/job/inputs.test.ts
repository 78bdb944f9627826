import { appendFileSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join, relative } from 'node:path'
import { describe, expect, it } from 'vitest'
import { FingerprintMismatchError } from '../../src/errors.ts'
import { csvInput, jsonlInput, runMapJob, verifyRun } from '../../src/index.ts'
import { fixture, runCli, tempDir } from '../support/cli.ts'

const root = tempDir()

function readOutput(dir: string): unknown[] {
  return readdirSync(join(dir, 'data'))
    .filter((name) => name.endsWith('.jsonl'))
    .sort()
    .flatMap((name) =>
      readFileSync(join(dir, 'data', name), 'utf8')
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line)),
    )
}

it('jsonl input: item i is made from line i, blank lines skipped; a resume after interruption gives the same output', async () => {
  const prompts = join(root, 'prompts.jsonl')
  writeFileSync(
    prompts,
    Array.from(
      { length: 300 },
      (_, i) => JSON.stringify({ prompt: `say hello ${i}` }) + (i === 10 ? '\n\n' : '\n'),
    ).join(''),
  )
  process.env.PROMPTS = prompts
  const whole = await runMapJob({ jobPath: fixture('prompts.ts'), outDir: join(root, 'p1'), workers: 2 })
  expect(whole.total).toBe(300)
  const records = readOutput(join(root, 'p1')) as { index: number; answer: string }[]
  expect(records[11]).toEqual({ index: 11, answer: 'SAY HELLO 11', words: 3 })
  expect(records.map((r) => r.index)).toEqual(Array.from({ length: 300 }, (_, i) => i))

  const controller = new AbortController()
  const partial = await runMapJob({
    jobPath: fixture('prompts.ts'),
    outDir: join(root, 'p2'),
    workers: 2,
    signal: controller.signal,
    observer: { committed: (p) => p.committed > 20 && controller.abort() },
  })
  expect(partial.state).toBe('interrupted')
  const resumed = await runMapJob({ jobPath: fixture('prompts.ts'), outDir: join(root, 'p2'), workers: 1 })
  expect(resumed.digest).toBe(whole.digest)

  // A changed input is a different job.
  appendFileSync(prompts, `${JSON.stringify({ prompt: 'one more' })}\n`)
  await expect(runMapJob({ jobPath: fixture('prompts.ts'), outDir: join(root, 'p1'), workers: 1 })).rejects.toThrow(
    /input changed/,
  )
  await expect(
    runMapJob({ jobPath: fixture('prompts.ts'), outDir: join(root, 'p1'), workers: 1 }),
  ).rejects.toBeInstanceOf(FingerprintMismatchError)
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
  expect(out.map((o) => [o.name.split('/').at(-1), o.bytes])).toEqual([
    ['f1.txt', 1],
    ['f2.txt', 2],
    ['f3.txt', 3],
  ])
})

describe('linear-in-the-input', () => {
  // Timing belongs in the benchmark (bench/cases/inputs.mjs); this proves a long line is read whole and right,
  // across many read chunks, whatever the chunk boundaries cut (a multi-byte character, the line's end).
  it('a single JSONL line of 8 MB, between two short ones, is one record read back byte for byte', async () => {
    const path = join(root, 'long.jsonl')
    const text = 'ünïcødé ✓ 🙂 '.repeat((8 * 1024 * 1024) / 24)
    writeFileSync(path, `{"n":1}\n${JSON.stringify({ text })}\r\n{"n":3}`)
    const input = jsonlInput<{ text?: string; n?: number }>(path)
    const scan = await input.scan()
    expect(scan.count).toBe(3)
    const records = input.reader(scan.handle)(0, 3)
    expect(records[0]).toEqual({ n: 1 })
    expect(records[1]!.text!.length).toBe(text.length)
    expect(records[1]!.text === text).toBe(true)
    expect(records[2]).toEqual({ n: 3 })
  })

  it('a single CSV field of 8 MB is one record read back whole', async () => {
    const path = join(root, 'long.csv')
    const note = 'a "quoted" ünïcødé field\n'.repeat((8 * 1024 * 1024) / 28)
    writeFileSync(path, `name,note\nfirst,x\nlong,"${note.replaceAll('"', '""')}"\nlast,y\n`)
    const input = csvInput(path)
    const scan = await input.scan()
    expect(scan.count).toBe(3)
    const records = input.reader(scan.handle)(0, 3)
    expect(records.map((r) => r.name)).toEqual(['first', 'long', 'last'])
    expect(records[1]!.note === note).toBe(true)
  })
})

describe('input-bytes-never-replaced', () => {
  const latin1 = (text: string): Buffer => Buffer.from(text, 'latin1')

  it('a JSONL line that is not UTF-8 is refused, naming the line and the byte, not read with U+FFFD in its place', async () => {
    const path = join(root, 'latin1.jsonl')
    writeFileSync(path, Buffer.concat([Buffer.from('{"prompt":"ok"}\n\n'), latin1('{"prompt":"caf\u00e9"}\n')]))
    await expect(jsonlInput(path).scan()).rejects.toThrow(
      /latin1\.jsonl:3: byte 15 of the line is 0xe9, which is not UTF-8/,
    )
    // Cut sequences, overlong forms and surrogates are refused too; valid four-byte characters are not.
    for (const [bytes, ok] of [
      [[0xf0, 0x9f, 0x99, 0x82], true],
      [[0xe2, 0x9c], false],
      [[0xc0, 0xaf], false],
      [[0xed, 0xa0, 0x80], false],
    ] as const) {
      writeFileSync(path, Buffer.concat([Buffer.from('"'), Buffer.from(bytes), Buffer.from('"\n')]))
      if (ok) await expect(jsonlInput(path).scan()).resolves.toMatchObject({ count: 1 })
      else await expect(jsonlInput(path).scan()).rejects.toThrow(/latin1\.jsonl:1: byte 2 of the line is 0x/)
    }
  })

  it('a CSV row that is not UTF-8 is refused, naming the line, also when the bad byte ends a read chunk', async () => {
    const path = join(root, 'latin1.csv')
    writeFileSync(path, Buffer.concat([Buffer.from('name,note\nada,fine\n'), latin1('bob,na\u00efve\n')]))
    await expect(csvInput(path).scan()).rejects.toThrow(/latin1\.csv:3: byte 7 of the line is 0xef, which is not UTF-8/)
    // A valid three-byte character cut by the 64 KiB read boundary is fine; a cut one at the file's end is not.
    const pad = 'x'.repeat(64 * 1024 - 'name,note\nada,'.length - 1)
    writeFileSync(path, `name,note\nada,${pad}✓\n`)
    await expect(csvInput(path).scan()).resolves.toMatchObject({ count: 1 })
    writeFileSync(path, Buffer.concat([Buffer.from('name,note\nada,x\nbob,'), Buffer.from([0xe2, 0x9c])]))
    await expect(csvInput(path).scan()).rejects.toThrow(/latin1\.csv:3: byte 5 of the line is 0xe2/)
  })

  it('run refuses such an input before any work, exit 2, naming the line', async () => {
    const bad = join(root, 'latin1-run.jsonl')
    writeFileSync(bad, Buffer.concat([Buffer.from('{"prompt":"a"}\n'), latin1('{"prompt":"\u00e9t\u00e9"}\n')]))
    const result = await runCli(['run', fixture('prompts.ts'), '--out', join(root, 'latin1-run')], { PROMPTS: bad })
    expect(result.stderr).toMatch(/latin1-run\.jsonl:2: byte 12 of the line is 0xe9, which is not UTF-8/)
    expect(result.stderr).not.toMatch(/internal error/)
    expect(result.code).toBe(2)
    expect(existsSync(join(root, 'latin1-run'))).toBe(false)
  })
})
