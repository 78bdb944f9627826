/**
 * What `longhaul.py describe` answers is kept on disk (src/job/pythonDescribeCache.ts): a run of an unchanged Python
 * job in a new process starts no describe process, and one whose file changed is described afresh, so what it now
 * declares and imports is what the run uses and fingerprints. Each run is a CLI process of its own.
 */
import { appendFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { expect, it } from 'vitest'
import { EXIT } from '../../src/cli/exitCodes.ts'
import { runCli, tempDir } from '../support/cli.ts'

/** Each import of the job appends the mode of the Python process importing it (describe, worker) to IMPORTS_LOG. */
const JOB = `import os
import sys

import longhaul

with open(os.environ["IMPORTS_LOG"], "a") as log:
    log.write(sys.argv[1] + "\\n")


def item(index, ctx):
    return {"i": index}


job = longhaul.define_job(name="described", total=10, item=item, output=longhaul.jsonl())
`

it('same-job-or-refuse: an unchanged Python job is not described again in a new process; an edited one is, and a local module it newly imports is fingerprinted', async () => {
  const dir = tempDir()
  // Its own node_modules: the kept answer goes to node_modules/.cache/longhaul beside the job, and goes with dir.
  mkdirSync(join(dir, 'node_modules'))
  const job = join(dir, 'job.py')
  const log = join(dir, 'imports.log')
  writeFileSync(job, JOB)
  const env = { IMPORTS_LOG: log }
  const modes = (): string[] => readFileSync(log, 'utf8').trim().split('\n')
  const run = (out: string, total: number) =>
    runCli(['run', job, '--out', join(dir, out), '--total', String(total), '--workers', '1'], env)

  expect((await run('a', 10)).code).toBe(EXIT.ok)
  expect(modes()).toEqual(['describe', 'worker'])

  writeFileSync(log, '')
  const resumed = await run('a', 20)
  expect(resumed.code).toBe(EXIT.ok)
  expect(modes()).toEqual(['worker'])

  // The edited file imports a module of its own and declares another name: described afresh, both are what the run uses.
  writeFileSync(join(dir, 'extra.py'), 'NAME = "described-again"\n')
  writeFileSync(
    job,
    JOB.replace('import longhaul\n', 'import longhaul\nfrom extra import NAME\n').replace(
      'name="described"',
      'name=NAME',
    ),
  )
  writeFileSync(log, '')
  const edited = await runCli(['run', job, '--out', join(dir, 'b'), '--total', '10', '--workers', '1', '--json'], env)
  expect(edited.code).toBe(EXIT.ok)
  expect(modes()).toEqual(['describe', 'worker'])
  expect(edited.stdout).toContain('described-again')

  appendFileSync(join(dir, 'extra.py'), 'OTHER = 1\n')
  const refused = await run('b', 20)
  expect(refused.code).toBe(EXIT.usage)
  expect(refused.stderr).toContain('job code changed (extra.py)')
})
