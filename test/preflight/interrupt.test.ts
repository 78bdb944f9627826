import { existsSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { expect, it } from 'vitest'
import { fixture, startCli, tempDir } from '../support/cli.ts'

it('Ctrl-C during preflight stops its child run, leaves no scratch folder and no proof, and exits 130', async () => {
  const out = join(tempDir(), 'run')
  const { child, done } = startCli(['preflight', fixture('squares.ts'), '--target', '2000', '--out', out], {
    ITEM_MS: '20',
  })
  await new Promise<void>((resolve) => {
    child.stderr!.on('data', (chunk: Buffer) => {
      if (chunk.toString().includes('crash/resume: reference run')) resolve()
    })
  })
  await new Promise((resolve) => setTimeout(resolve, 1_500))
  child.kill('SIGINT')
  const result = await done
  expect(result.code).toBe(130)
  expect(result.stderr).toMatch(/preflight interrupted; no proof was written/)
  expect(readdirSync(join(out, 'proofs'))).toEqual([])
  expect(existsSync(join(out, '.longhaul'))).toBe(false)
}, 60_000)
