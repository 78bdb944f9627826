/**
 * durable-or-fail, for loops: the run directory sits on a real small tmpfs.
 * When a checkpoint cannot be written, the run stops with a clear error and
 * exit 1, and no checkpoint that may not be durable is counted; once space is
 * back, the same command resumes and ends in the bytes of an uninterrupted run.
 */
import { execFileSync } from 'node:child_process'
import { join } from 'node:path'
import { expect, it } from 'vitest'
import { listCheckpoints, readCheckpoint } from '../../src/work/loop/checkpoints.ts'
import { tempDir } from '../support/cli.ts'
import { smallDisk } from '../support/smallDisk.ts'
import { DESCENT, finalBytes, readJournal, runLoop, runLoopHere, sha256 } from './support.ts'

// Not root, or no mount in this sandbox: the test says so below instead of passing silently.
const disk = smallDisk('600k')
const mounted = disk !== undefined
const mountPoint = disk ?? ''

// A 256 KiB state: two checkpoints and the journal do not fit in 600 KiB.
const env = { CKPT_STEPS: '20', CKPT_MS: '3600000', LOOP_PARAMS: '{"size":32767}' }

it.skipIf(!mounted)(
  'durable-or-fail (loops): a full disk stops the run cleanly (exit 1), and it resumes once space is back',
  async () => {
    const reference = join(tempDir(), 'reference')
    // Made in this process: a loop's final bytes do not depend on where it runs.
    expect((await runLoopHere(DESCENT, reference, env, 100)).code).toBe(0)
    const expected = finalBytes(reference)

    const out = join(mountPoint, 'run')
    const full = await runLoop(DESCENT, out, env, 100)
    expect(full.code).toBe(1)
    expect(full.stderr).toMatch(/could not make the checkpoint of step \d+ .* durable: .*ENOSPC.*The disk is full/)
    const { run, events } = await readJournal(out)
    expect(run?.state).toBe('failed')
    // Every checkpoint the journal counts is on disk and whole.
    const recorded = events.filter((e) => e.type === 'checkpoint').map((e) => e.detail.file as string)
    const onDisk = listCheckpoints(join(out, 'data')).map((c) => c.file)
    for (const file of recorded) {
      expect(onDisk).toContain(file)
      expect(readCheckpoint(join(out, 'data'), file, run!)).not.toHaveProperty('corrupt')
    }

    execFileSync('mount', ['-o', 'remount,size=16m', mountPoint])
    const resumed = await runLoop(DESCENT, out, env, 100)
    expect(resumed.code, resumed.stderr).toBe(0)
    expect(JSON.parse(resumed.stdout).digest).toBe(sha256(expected))
    expect(finalBytes(out).equals(expected)).toBe(true)
  },
)

it.runIf(!mounted)(
  'durable-or-fail (loops) needs root to mount a small tmpfs; run the suite as root to prove it',
  () => {
    expect(mounted).toBe(false)
  },
)
