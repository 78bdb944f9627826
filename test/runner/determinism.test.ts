import { copyFileSync, existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { FingerprintMismatchError, UsageError } from '../../src/errors.ts'
import { type RunOptions, runMapJob, verifyRun } from '../../src/index.ts'
import { fixture, ROOT, tempDir } from '../support/cli.ts'

const squares = fixture('squares.ts')
const root = tempDir()
let n = 0
const dir = (): string => join(root, `run-${n++}`)

function run(options: Partial<RunOptions> & { outDir: string }) {
  return runMapJob({ jobPath: squares, workers: 2, total: 600, ...options })
}

/** Runs until `commits` ranges have been committed, then aborts (as Ctrl-C would). */
async function runAndInterrupt(outDir: string, commits: number, workers: number) {
  const controller = new AbortController()
  let seen = 0
  return run({
    outDir,
    workers,
    signal: controller.signal,
    observer: { committed: () => ++seen >= commits && controller.abort() },
  })
}

describe('determinism', () => {
  it('determinism: sequential, parallel (2 and 3 workers) and interrupted-then-resumed runs give one digest', async () => {
    const one = await run({ outDir: dir(), workers: 1 })
    const two = await run({ outDir: dir(), workers: 2 })
    const three = await run({ outDir: dir(), workers: 3 })
    const resumedDir = dir()
    const first = await runAndInterrupt(resumedDir, 3, 2)
    expect(first.state).toBe('interrupted')
    expect(first.committed).toBeLessThan(600)
    const second = await runAndInterrupt(resumedDir, 2, 1)
    const last = await run({ outDir: resumedDir, workers: 3 })
    expect(second.resumed && last.resumed).toBe(true)
    expect(one.digest).toMatch(/^[0-9a-f]{64}$/)
    expect([two.digest, three.digest, last.digest]).toEqual([one.digest, one.digest, one.digest])
    const report = await verifyRun(resumedDir)
    expect(report).toMatchObject({
      complete: true,
      items: 600,
      missing: 0,
      duplicates: 0,
      corrupt: 0,
      digest: one.digest,
    })
  })

  it('determinism: a different seed gives a different digest', async () => {
    const a = await run({ outDir: dir(), total: 50 })
    const b = await run({ outDir: dir(), total: 50, seed: 1 })
    expect(a.digest).not.toBe(b.digest)
  })
})

describe('same-job-or-refuse', () => {
  it('same-job-or-refuse: extending total computes only the new items, and the digest equals a fresh run of the larger total', async () => {
    const outDir = dir()
    await run({ outDir, total: 300 })
    const commits: number[] = []
    const extended = await run({ outDir, total: 600, observer: { committed: (p) => commits.push(p.committed) } })
    expect(extended.committedThisSession).toBe(300)
    expect(Math.min(...commits)).toBeGreaterThan(300)
    const fresh = await run({ outDir: dir(), total: 600 })
    expect(extended.digest).toBe(fresh.digest)
    // With no --total, a resume keeps the run's own total.
    const again = await runMapJob({ jobPath: squares, outDir, workers: 1 })
    expect(again).toMatchObject({ total: 600, committedThisSession: 0, digest: fresh.digest })
  })

  it('same-job-or-refuse: a different seed, params or job code is refused, naming what changed', async () => {
    const outDir = dir()
    await run({ outDir, total: 20 })
    await expect(run({ outDir, total: 20, seed: 9 })).rejects.toThrow(/seed changed \(0 → 9\)/)
    await expect(run({ outDir, total: 20, params: { scale: 2 } })).rejects.toThrow(/params changed/)
    const copy = join(ROOT, 'test/fixtures/jobs', `.copy-${process.pid}.ts`)
    copyFileSync(squares, copy)
    try {
      const other = dir()
      await runMapJob({ jobPath: copy, outDir: other, workers: 1, total: 20 })
      writeFileSync(copy, `${readFileSync(copy, 'utf8')}\n// one more line\n`)
      const refusal = runMapJob({ jobPath: copy, outDir: other, workers: 1, total: 20 })
      await expect(refusal).rejects.toBeInstanceOf(FingerprintMismatchError)
      await expect(refusal).rejects.toThrow(/job code changed \(\.copy-\d+\.ts\)/)
    } finally {
      import('node:fs').then((fs) => fs.rmSync(copy, { force: true }))
    }
  })

  it('same-job-or-refuse: shrinking total is refused; --fresh moves the old run aside and starts over', async () => {
    const outDir = dir()
    const before = await run({ outDir, total: 30 })
    await expect(run({ outDir, total: 10 })).rejects.toBeInstanceOf(UsageError)
    const notes: string[] = []
    const fresh = await run({
      outDir,
      total: 10,
      seed: 5,
      fresh: true,
      observer: { started: (s) => s.movedAsideTo && notes.push(s.movedAsideTo) },
    })
    expect(fresh.resumed).toBe(false)
    expect(notes).toHaveLength(1)
    expect(existsSync(notes[0]!)).toBe(true)
    expect((await verifyRun(notes[0]!)).digest).toBe(before.digest)
    expect(readdirSync(join(outDir, 'data')).length).toBeGreaterThan(0)
  })
})
