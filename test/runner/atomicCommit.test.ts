import { existsSync, openSync, readdirSync, readSync, writeFileSync, writeSync, closeSync } from 'node:fs'
import { join } from 'node:path'
import { expect, it } from 'vitest'
import { runMapJob, verifyRun } from '../../src/index.ts'
import { fixture, runCli, tempDir } from '../support/cli.ts'

const root = tempDir()

it('atomic-commit: a torn temp file and an unrecorded shard are never counted, and a resume removes them', async () => {
  const outDir = join(root, 'torn')
  const clean = await runMapJob({ jobPath: fixture('squares.ts'), outDir, total: 100, workers: 2 })
  const data = join(outDir, 'data')
  // What a crash mid-commit leaves: a half-written temp file, and a finished shard whose journal record never landed.
  writeFileSync(join(data, '.tmp-0a1b2c-000000000100-000000000150.jsonl'), '{"i":100,"squ')
  writeFileSync(join(data, '000000000100-000000000150.jsonl'), '{"i":100}\n'.repeat(50))
  const before = await verifyRun(outDir)
  expect(before.items).toBe(100)
  expect(before.complete).toBe(false)
  expect(before.stray).toHaveLength(2)

  const resumed = await runMapJob({ jobPath: fixture('squares.ts'), outDir, total: 100, workers: 2 })
  expect(resumed.committedThisSession).toBe(0)
  expect(readdirSync(data).some((name) => name.startsWith('.tmp-') || name.startsWith('000000000100-'))).toBe(false)
  expect(await verifyRun(outDir)).toMatchObject({ complete: true, stray: [], digest: clean.digest })
})

it('atomic-commit: a flipped byte in a recorded shard is found by verify and recomputed by run, never trusted', async () => {
  const outDir = join(root, 'flipped')
  const clean = await runMapJob({ jobPath: fixture('blobs.ts'), outDir, total: 40, workers: 2 })
  const data = join(outDir, 'data')
  const victim = readdirSync(data).filter((name) => name.endsWith('.blob.npy')).sort()[1]!
  const fd = openSync(join(data, victim), 'r+')
  const byte = Buffer.alloc(1)
  readSync(fd, byte, 0, 1, 200)
  writeSync(fd, Buffer.from([byte[0]! ^ 0xff]), 0, 1, 200)
  closeSync(fd)

  const detected = await runCli(['verify', outDir, '--json'])
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
