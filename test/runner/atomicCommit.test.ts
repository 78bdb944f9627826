import {
  closeSync,
  existsSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  renameSync,
  writeFileSync,
  writeSync,
} from 'node:fs'
import { join } from 'node:path'
import { expect, it } from 'vitest'
import { runMapJob, verifyRun } from '../../src/index.ts'
import { SqliteStore } from '../../src/journal/sqlite/sqliteStore.ts'
import { runTagOf } from '../../src/shards/shardNames.ts'
import { fixture, runCliHere, tempDir } from '../support/cli.ts'

const root = tempDir()

/** The tag this run's staged names carry (shardNames.ts). */
async function runTag(outDir: string): Promise<string> {
  const store = SqliteStore.open(join(outDir, '.longhaul', 'journal.sqlite'), { readonly: true })
  try {
    return runTagOf((await store.getRun())!.runId)
  } finally {
    await store.close()
  }
}

it('atomic-commit: a torn temp file and a staged shard whose record never landed are never counted, and a resume removes them', async () => {
  const outDir = join(root, 'torn')
  const clean = await runMapJob({ jobPath: fixture('squares.ts'), outDir, total: 100, workers: 2 })
  const data = join(outDir, 'data')
  const tag = await runTag(outDir)
  // What a crash mid-commit leaves: a half-written temp file (as earlier versions wrote shards), a half-written staged
  // shard, and a whole staged shard whose journal record never landed.
  const debris = [
    '.tmp-0a1b2c3d4e5f-000000000100-000000000150.jsonl',
    `.claim-${tag}-41-000000000100-000000000120.jsonl`,
    `.claim-${tag}-42-000000000100-000000000150.jsonl`,
  ]
  writeFileSync(join(data, debris[0]!), '{"i":100,"squ')
  writeFileSync(join(data, debris[1]!), '{"i":100,"squ')
  writeFileSync(join(data, debris[2]!), '{"i":100}\n'.repeat(50))
  const before = await verifyRun(outDir)
  expect(before.items).toBe(100)
  expect(before.complete).toBe(false)
  expect(before.stray).toHaveLength(3)

  const notes: string[] = []
  const resumed = await runMapJob({
    jobPath: fixture('squares.ts'),
    outDir,
    total: 100,
    workers: 2,
    observer: { note: (text) => notes.push(text) },
  })
  expect(resumed.committedThisSession).toBe(0)
  expect(notes).toContain('removed 3 unrecorded file(s) left by an earlier crash')
  for (const name of debris) expect(existsSync(join(data, name)), name).toBe(false)
  expect(await verifyRun(outDir)).toMatchObject({ complete: true, stray: [], digest: clean.digest })
})

it('atomic-commit: a recorded shard whose rename a crash cut short is finished from its staged copy on resume; a staged copy that fails its checksum is removed and the range made again', async () => {
  const outDir = join(root, 'rename')
  const clean = await runMapJob({ jobPath: fixture('squares.ts'), outDir, total: 100, workers: 2 })
  const data = join(outDir, 'data')
  const tag = await runTag(outDir)
  const [first, second] = readdirSync(data)
    .filter((name) => name.endsWith('.jsonl'))
    .sort()
  // Recorded, and killed before the rename: the final name is missing, the staged copy is whole.
  renameSync(join(data, first!), join(data, `.claim-${tag}-7-${first}`))
  // Recorded, killed before the rename, and the staged copy then damaged: never trusted.
  const damaged = `.claim-${tag}-8-${second}`
  renameSync(join(data, second!), join(data, damaged))
  const bytes = readFileSync(join(data, damaged))
  bytes[0] = bytes[0]! ^ 0xff
  writeFileSync(join(data, damaged), bytes)
  expect((await verifyRun(outDir)).complete).toBe(false)

  const notes: string[] = []
  const resumed = await runMapJob({
    jobPath: fixture('squares.ts'),
    outDir,
    total: 100,
    workers: 2,
    observer: { note: (text) => notes.push(text) },
  })
  expect(notes).toContain('finished 1 recorded file(s) whose rename an earlier crash cut short')
  expect(notes).toContain('removed 1 unrecorded file(s) left by an earlier crash')
  expect(existsSync(join(data, first!))).toBe(true)
  expect(existsSync(join(data, damaged))).toBe(false)
  // Only the damaged range is made again.
  expect(resumed.committedThisSession).toBe(Number(second!.slice(13, 25)) - Number(second!.slice(0, 12)))
  expect(await verifyRun(outDir)).toMatchObject({ complete: true, stray: [], digest: clean.digest })
})

it('atomic-commit: a flipped byte in a recorded shard is found by verify and recomputed by run, never trusted', async () => {
  const outDir = join(root, 'flipped')
  const clean = await runMapJob({ jobPath: fixture('blobs.ts'), outDir, total: 40, workers: 2 })
  const data = join(outDir, 'data')
  const victim = readdirSync(data)
    .filter((name) => name.endsWith('.blob.npy'))
    .sort()[1]!
  const fd = openSync(join(data, victim), 'r+')
  const byte = Buffer.alloc(1)
  readSync(fd, byte, 0, 1, 200)
  writeSync(fd, Buffer.from([byte[0]! ^ 0xff]), 0, 1, 200)
  closeSync(fd)

  const detected = await runCliHere(['verify', outDir, '--json'])
  expect(detected.code).toBe(1)
  const report = JSON.parse(detected.stdout)
  expect(report).toMatchObject({ complete: false, digest: null, missing: 0, duplicates: 0 })
  expect(report.corrupt).toBeGreaterThan(0)
  expect(report.problems.join('\n')).toContain(`data/${victim} fails its checksum`)

  const rerun = await runMapJob({ jobPath: fixture('blobs.ts'), outDir, workers: 2 })
  expect(rerun.committedThisSession).toBeGreaterThan(0)
  // The recomputed items are counted once: never past the total.
  expect(rerun.committed).toBe(40)
  expect(rerun.digest).toBe(clean.digest)
  expect(existsSync(join(outDir, '.longhaul', 'quarantine'))).toBe(true)
  expect(await verifyRun(outDir)).toMatchObject({ complete: true, corrupt: 0, digest: clean.digest })
})
