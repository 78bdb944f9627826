/**
 * durable-or-fail: the run directory sits on a real 2 MiB tmpfs. When it
 * fills, the run stops with a clear error and exit 1; nothing that may not be
 * durable is recorded; once space is back, the same command resumes and
 * completes with the right digest.
 */
import { execFileSync } from 'node:child_process'
import { join } from 'node:path'
import { expect, it } from 'vitest'
import { verifyRun } from '../../src/index.ts'
import { fixture, referenceDigest, runCli, runCliHere, tempDir } from '../support/cli.ts'
import { smallDisk } from '../support/smallDisk.ts'

// Not root, or no mount in this sandbox: the test says so below instead of passing silently.
const disk = smallDisk('2m')
const mounted = disk !== undefined
const mountPoint = disk ?? ''

it.skipIf(!mounted)(
  'durable-or-fail: a full disk stops the run cleanly (exit 1), and it resumes once space is back',
  async () => {
    // Made in this process: the digest of the same items, whatever made them.
    const expected = await referenceDigest(fixture('blobs.ts'), 60, join(tempDir(), 'ref'))

    const out = join(mountPoint, 'run')
    const args = ['run', fixture('blobs.ts'), '--out', out, '--total', '60']
    const full = await runCli(args)
    expect(full.code).toBe(1)
    expect(full.stderr).toMatch(/could not make .+ durable: .*ENOSPC|disk is full/i)
    const partial = await verifyRun(out)
    expect(partial.corrupt + partial.duplicates).toBe(0)
    expect(partial.items).toBeLessThan(60)

    execFileSync('mount', ['-o', 'remount,size=64m', mountPoint])
    // The same command, in this process (no process is at stake any more).
    const resumed = await runCliHere([...args, '--json'])
    expect(resumed.code).toBe(0)
    expect(JSON.parse(resumed.stdout).digest).toBe(expected)
    expect(await verifyRun(out)).toMatchObject({ complete: true, digest: expected })
  },
)

it.runIf(!mounted)('durable-or-fail needs root to mount a small tmpfs; run the suite as root to prove it', () => {
  expect(mounted).toBe(false)
})
