import { mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, expect, it } from 'vitest'
import { describeChanges, hashSources } from '../../src/job/fingerprint.ts'
import { identifyJob } from '../../src/run/identify.ts'
import { ROOT } from '../support/cli.ts'

// A workspace: the job imports the team's own package, linked into node_modules from packages/.
const ws = join(ROOT, 'test/fixtures', `.workspace-${process.pid}`)
afterAll(() => rmSync(ws, { recursive: true, force: true }))

it('same-job-or-refuse: a change in a workspace package the job imports changes its fingerprint and is named; installed packages are not hashed', async () => {
  mkdirSync(join(ws, 'packages/util'), { recursive: true })
  mkdirSync(join(ws, 'node_modules/@acme'), { recursive: true })
  writeFileSync(
    join(ws, 'packages/util/package.json'),
    JSON.stringify({ name: '@acme/util', type: 'module', main: 'index.js' }),
  )
  writeFileSync(join(ws, 'packages/util/index.js'), 'export const scale = 1\n')
  symlinkSync(join(ws, 'packages/util'), join(ws, 'node_modules/@acme/util'), 'dir')
  const job = join(ws, 'job.ts')
  writeFileSync(
    job,
    [
      "import { defineJob, jsonl } from 'longhaul'",
      "import { z } from 'zod'",
      "import { scale } from '@acme/util'",
      "export default defineJob({ name: 'ws', total: 10, params: z.object({}), output: jsonl(), item: (i) => ({ i: i * scale }) })",
      '',
    ].join('\n'),
  )
  const before = await identifyJob({ jobPath: job })
  expect(Object.keys(before.identity.sources).sort()).toEqual(['job.ts', join('packages', 'util', 'index.js')])
  writeFileSync(join(ws, 'packages/util/index.js'), 'export const scale = 1000\n')
  const after = await identifyJob({ jobPath: job })
  expect(after.fingerprint).not.toBe(before.fingerprint)
  expect(describeChanges(before.identity, after.identity)).toEqual([
    `job code changed (${join('packages', 'util', 'index.js')})`,
  ])
  // zod and longhaul are installed packages: their code is pinned by the lockfile and the major version.
  expect(Object.keys(await hashSources(join(ROOT, 'test/fixtures/jobs/squares.ts')))).toEqual(['squares.ts'])
})
