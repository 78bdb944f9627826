import { createHash } from 'node:crypto'
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { UsageError } from '../../src/errors.ts'
import { runMapJob } from '../../src/index.ts'
import { openRecords } from '../../src/inspect/records.ts'
import { itemRng } from '../../src/job/rng.ts'
import { fixture, tempDir } from '../support/cli.ts'

const root = tempDir()
let n = 0
const dir = (): string => join(root, `run-${n++}`)

/** What the squares fixture makes for item `i` with seed 0. */
const square = (i: number) => ({ i, square: i * i, noise: itemRng(0, i).next() })

/**
 * The bytes of the journal and of every data file, hashed. SQLite's -wal and
 * -shm side files are left out: a read-only connection to a WAL journal may
 * create them, and they stay empty of changes (checked where this is used).
 */
function snapshot(outDir: string): Record<string, string> {
  const paths = ['.longhaul/journal.sqlite', ...readdirSync(join(outDir, 'data')).map((name) => `data/${name}`)]
  return Object.fromEntries(
    paths.map((path) => [
      path,
      createHash('sha256')
        .update(readFileSync(join(outDir, path)))
        .digest('hex'),
    ]),
  )
}

describe('openRecords', () => {
  it('round-trip: a finished run yields every index 0…total-1 once, in order, with the record the job made', async () => {
    const outDir = dir()
    const run = await runMapJob({ jobPath: fixture('squares.ts'), outDir, workers: 2, total: 600 })
    expect(run.state).toBe('complete')
    // Several shards, so the order across shards is tested too.
    expect(readdirSync(join(outDir, 'data')).filter((name) => name.endsWith('.jsonl')).length).toBeGreaterThan(1)

    const output = await openRecords(outDir)
    expect(output.count).toBe(600)
    const seen = [...output.records()]
    expect(seen.map((r) => r.index)).toEqual(Array.from({ length: 600 }, (_, i) => i))
    for (const { index, record } of seen) expect(record).toEqual(square(index))
  })

  it('round-trip: an npy run reads back as numbers and typed arrays equal to what the job returned', async () => {
    const outDir = dir()
    await runMapJob({ jobPath: fixture('blobs.ts'), outDir, workers: 1, total: 20 })
    const output = await openRecords(outDir)
    expect(output.count).toBe(20)
    let next = 0
    for (const { index, record } of output.records()) {
      expect(index).toBe(next++)
      const rng = itemRng(0, index)
      const blob = new Uint8Array(65_536)
      for (let i = 0; i < blob.length; i += 4096) blob[i] = rng.int(0, 255)
      const { blob: read, ...rest } = record as { blob: Uint8Array; index: number }
      expect(rest).toStrictEqual({ index })
      expect(read).toBeInstanceOf(Uint8Array)
      // Compared as bytes: an element-by-element deep equality of 64 KiB arrays is slow.
      expect(Buffer.from(read).equals(blob)).toBe(true)
    }
    expect(next).toBe(20)
  })

  it('committed-only: an interrupted run yields exactly its committed items, each once and in index order', async () => {
    const outDir = dir()
    const controller = new AbortController()
    let commits = 0
    const run = await runMapJob({
      jobPath: fixture('squares.ts'),
      outDir,
      workers: 2,
      total: 600,
      signal: controller.signal,
      observer: { committed: () => ++commits >= 3 && controller.abort() },
    })
    expect(run.state).toBe('interrupted')
    expect(run.committed).toBeLessThan(600)

    const output = await openRecords(outDir)
    expect(output.count).toBe(run.committed)
    const indices: number[] = []
    for (const { index, record } of output.records()) {
      expect(record).toEqual(square(index))
      indices.push(index)
    }
    expect(indices).toHaveLength(run.committed)
    expect(indices.every((index, k) => k === 0 || index > indices[k - 1]!)).toBe(true)
  })

  it('read-only: opening and reading the records leaves every file of the run as it was', async () => {
    const outDir = dir()
    await runMapJob({ jobPath: fixture('squares.ts'), outDir, workers: 1, total: 50 })
    const before = snapshot(outDir)
    const output = await openRecords(outDir)
    expect([...output.records()]).toHaveLength(50)
    expect(snapshot(outDir)).toEqual(before)
    const wal = join(outDir, '.longhaul/journal.sqlite-wal')
    if (existsSync(wal)) expect(statSync(wal).size).toBe(0)
  })

  it('a folder without a run is refused with a UsageError naming it', async () => {
    const empty = dir()
    const refusal = openRecords(empty)
    await expect(refusal).rejects.toBeInstanceOf(UsageError)
    await expect(refusal).rejects.toThrow(`${empty} holds no longhaul run`)
  })
})
