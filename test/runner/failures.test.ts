import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { expect, it } from 'vitest'
import { ItemFailedError } from '../../src/errors.ts'
import { runMapJob, verifyRun } from '../../src/index.ts'
import { fixture, runCli, runCliHere, tempDir } from '../support/cli.ts'

const root = tempDir()

it('a failing item fails the run after its retries, naming the item, its error and stack; committed work stays', async () => {
  const outDir = join(root, 'failing')
  const result = await runCli(['run', fixture('failing.ts'), '--out', outDir, '--workers', '1'], { FAIL_AT: '70' })
  expect(result.code).toBe(1)
  expect(result.stderr).toContain('item 70 failed after 2 attempts: cannot make item 70')
  expect(result.stderr).toMatch(/failing\.ts:\d+/)
  const report = await verifyRun(outDir)
  expect(report.duplicates + report.corrupt).toBe(0)
  expect(report.items).toBeGreaterThanOrEqual(70)
  // Fixed, the same command resumes and completes.
  const fixed = await runCliHere(['run', fixture('failing.ts'), '--out', outDir, '--workers', '1', '--json'])
  expect(fixed.code).toBe(0)
  expect(JSON.parse(fixed.stdout).committedThisSession).toBeLessThanOrEqual(30)
})

it('a transient item failure is retried and the run completes', async () => {
  const flakyDir = join(root, 'markers')
  mkdirSync(flakyDir)
  process.env.FLAKY_DIR = flakyDir
  const summary = await runMapJob({ jobPath: fixture('flaky.ts'), outDir: join(root, 'flaky'), workers: 2 })
  expect(summary).toMatchObject({ state: 'complete', committed: 20 })
})

it('an item failure surfaces as ItemFailedError in the library', async () => {
  process.env.FAIL_AT = '3'
  try {
    const run = runMapJob({ jobPath: fixture('failing.ts'), outDir: join(root, 'lib'), workers: 1, total: 10 })
    await expect(run).rejects.toBeInstanceOf(ItemFailedError)
    await expect(run).rejects.toMatchObject({ index: 3, attempts: 2 })
  } finally {
    delete process.env.FAIL_AT
  }
})
