import { join } from 'node:path'
import { expect, it } from 'vitest'
import { RunOwnedError } from '../../src/errors.ts'
import { runMapJob } from '../../src/index.ts'
import { fixture, runCliHere, startCli, tempDir } from '../support/cli.ts'

it('one-owner: a second run on a live run is refused (exit 2) naming who holds it; after the owner is killed the run is taken over', async () => {
  const out = join(tempDir(), 'run')
  const args = ['run', fixture('squares.ts'), '--out', out, '--total', '400', '--workers', '1']
  const { child, done } = startCli(args, { ITEM_MS: '20' })
  // Wait until the first owner has started working.
  await new Promise<void>((resolve) =>
    child.stderr!.on('data', (chunk: Buffer) => chunk.toString().includes('items →') && resolve()),
  )

  const second = await runCliHere(args)
  expect(second.code).toBe(2)
  expect(second.stderr).toMatch(new RegExp(`is being run by pid ${child.pid} on .+ since \\d{4}-\\d\\d-\\d\\dT`))
  await expect(
    runMapJob({ jobPath: fixture('squares.ts'), outDir: out, total: 400, workers: 1 }),
  ).rejects.toBeInstanceOf(RunOwnedError)

  child.kill('SIGKILL')
  await done
  const takeover = await runCliHere([...args, '--json'])
  expect(takeover.code).toBe(0)
  expect(JSON.parse(takeover.stdout)).toMatchObject({ state: 'complete', resumed: true, committed: 400 })
})
