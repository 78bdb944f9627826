import { rmSync } from 'node:fs'
import { join } from 'node:path'
import { expect, it } from 'vitest'
import { runMapJob } from '../../src/index.ts'
import { fixture, runCliHere, tempDir } from '../support/cli.ts'

it('status of a run without progress.json falls back to the journal (read through the store), and a folder with no run is bad usage', async () => {
  const root = tempDir()
  const out = join(root, 'runs', 'old')
  await runMapJob({ jobPath: fixture('squares.ts'), outDir: out, total: 50, workers: 1 })
  rmSync(join(out, 'progress.json'))
  const status = await runCliHere(['status', out])
  expect(status.code).toBe(0)
  expect(status.stdout).toMatch(/COMPLETE \(from the journal: this run has no progress\.json\)/)
  expect(status.stdout).toMatch(/Completed: +50 \/ 50 \(100\.0%\)/)
  const none = await runCliHere(['status', root])
  expect(none.code).toBe(2)
  expect(none.stderr).toMatch(/holds no longhaul run/)
})
