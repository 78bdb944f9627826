/**
 * The launch gate for Python jobs: preflight proves a .py job through the same suite as a TypeScript one, its proof
 * lets `run` go above the policy's scale, and a Python job that keeps every item fails bounded-memory. Each preflight
 * takes about a minute, so these run with the long tests (`npm run test:long`).
 */
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { EXIT } from '../../src/cli/exitCodes.ts'
import { LONG, ROOT, runCli, tempDir } from '../support/cli.ts'

const FIXTURES = join(ROOT, 'test/fixtures/python')

describe.skipIf(!LONG)('preflight of a Python job', () => {
  it('gate: preflight of a Python job passes, and its proof lets run go above the policy scale', async () => {
    const out = join(tempDir(), 'out')
    const job = join(FIXTURES, 'squares.py')
    const proved = await runCli(['preflight', job, '--target', '2000', '--out', out])
    expect(proved.code, proved.stdout + proved.stderr).toBe(0)
    expect(proved.stdout).toMatch(/maxMemoryGrowthMiB\s+256\s+retained memory/)
    const run = await runCli(['run', job, '--out', out, '--total', '2000', '--json'])
    expect(run.code, run.stderr).toBe(0)
    expect(JSON.parse(run.stdout)).toMatchObject({ state: 'complete', committed: 2000 })
  }, 600_000)

  it('bounded-memory: preflight fails a Python job that keeps every item, naming the growth per item', async () => {
    const out = join(tempDir(), 'out')
    const failed = await runCli(['preflight', join(FIXTURES, 'leaky.py'), '--target', '2000', '--out', out])
    expect(failed.code).toBe(EXIT.failed)
    expect(failed.stdout).toMatch(/bounded-memory: memory grows with items \(1\.0 MiB per item/)
  }, 600_000)
})
