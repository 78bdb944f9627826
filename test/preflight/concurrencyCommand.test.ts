import { expect, it } from 'vitest'
import { preflightCommandLine } from '../../src/cli/commands/run.ts'
import { runCommandLine } from '../../src/preflight/command.ts'

it('preflight-run-command-is-the-proved-run: the run command carries the concurrency preflight was given, and the preflight the gate suggests carries the run’s', () => {
  const proved = runCommandLine({ jobPath: 'job.ts', outDir: 'runs/job', target: 5000, workers: 2, concurrency: 64 })
  expect(proved).toBe('npx longhaul run job.ts --out runs/job --total 5000 --workers 2 --concurrency 64')
  expect(runCommandLine({ jobPath: 'job.ts', outDir: 'runs/job', target: 5000 })).not.toContain('--concurrency')
  const suggested = preflightCommandLine('job.ts', 5000, 'runs/job', { param: [], concurrency: 256 })
  expect(suggested).toBe('npx longhaul preflight job.ts --target 5000 --out runs/job --concurrency 256')
})
