/**
 * The interpreter and numpy a Python job's items are made with are part of its fingerprint (invariant
 * same-job-or-refuse): Python's major.minor, numpy's exact version (as a lockfile pins a dependency).
 */
import { execFileSync } from 'node:child_process'
import { join } from 'node:path'
import { expect, it } from 'vitest'
import { EXIT } from '../../src/cli/exitCodes.ts'
import { describeChanges } from '../../src/job/fingerprint.ts'
import { identifyJob } from '../../src/run/identify.ts'
import { ROOT, runCli, tempDir } from '../support/cli.ts'

const SQUARES = join(ROOT, 'test/fixtures/python/squares.py')

it('same-job-or-refuse: a Python job’s fingerprint holds its Python major.minor (not the patch) and numpy version; another minor is named as a change', async () => {
  const [python = '', numpy = ''] = execFileSync(
    'python3',
    ['-c', 'import sys, numpy; print(f"{sys.version_info[0]}.{sys.version_info[1]}", numpy.__version__)'],
    { encoding: 'utf8' },
  )
    .trim()
    .split(' ')
  const { identity } = await identifyJob({ jobPath: SQUARES })
  expect(identity.runtime).toEqual({ python, numpy })
  const other = { ...identity, runtime: { python: '3.99', numpy } }
  expect(describeChanges(identity, other)).toEqual([`Python changed (${python} → 3.99)`])
})

/** Debian's python3 beside the one first on PATH, when it has another numpy: another interpreter to resume with. */
function otherNumpy(): string | undefined {
  const version = (python: string): string | undefined => {
    try {
      return execFileSync(python, ['-c', 'import numpy; print(numpy.__version__)'], { encoding: 'utf8' }).trim()
    } catch {
      return undefined
    }
  }
  const debian = version('/usr/bin/python3')
  return debian && debian !== version('python3') ? debian : undefined
}

it.skipIf(otherNumpy() === undefined)(
  'same-job-or-refuse: a Python job resumed with another numpy is refused (exit 2), naming both versions',
  async () => {
    const out = join(tempDir(), 'out')
    const first = await runCli(['run', SQUARES, '--out', out, '--total', '20'])
    expect(first.code).toBe(EXIT.ok)
    const mine = execFileSync('python3', ['-c', 'import numpy; print(numpy.__version__)'], { encoding: 'utf8' }).trim()
    const refused = await runCli(['run', SQUARES, '--out', out, '--total', '20'], {
      PATH: `/usr/bin:${process.env.PATH}`,
    })
    expect(refused.code).toBe(EXIT.usage)
    expect(refused.stderr).toContain(`numpy changed (${mine} → ${otherNumpy()})`)
    expect(refused.stderr).not.toContain('Python changed')
  },
)
