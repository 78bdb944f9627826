/**
 * prune-after-durable: an older checkpoint is deleted only once a newer one is
 * durable. A crash at the instant between the two (LONGHAUL_CRASH_AT=
 * loop-checkpoint:N: the Nth checkpoint written, fsynced, renamed, folder
 * fsynced and recorded; nothing pruned for it yet) leaves the previous
 * checkpoint beside the new one, and the same command resumes from the newest
 * to the bytes of an uninterrupted run.
 */
import { join } from 'node:path'
import { expect, it } from 'vitest'
import { listCheckpoints, readCheckpoint } from '../../src/work/loop/checkpoints.ts'
import { tempDir } from '../support/cli.ts'
import { ckpt, DESCENT, dataFiles, finalBytes, readJournal, runLoop, runLoopHere, sha256 } from './support.ts'

const env = { CKPT_STEPS: '20', CKPT_MS: '3600000', KEEP: '1', STEP_MS: '2' }

it('prune-after-durable: killed after its 3rd checkpoint is durable and before pruning, the previous checkpoint is still there; the run resumes from the newest', async () => {
  const root = tempDir('longhaul-loop-prune-')
  const reference = join(root, 'reference')
  // Made in this process and at full speed: a loop's final bytes do not depend on its pace.
  expect((await runLoopHere(DESCENT, reference, { ...env, STEP_MS: '0' })).code).toBe(0)
  const expected = finalBytes(reference)

  const out = join(root, 'crashed')
  const crashed = await runLoop(DESCENT, out, { ...env, LONGHAUL_CRASH_AT: 'loop-checkpoint:3' })
  expect(crashed.signal).toBe('SIGKILL')
  const { run, events } = await readJournal(out)
  expect(events.filter((e) => e.type === 'checkpoint').map((e) => e.detail.step)).toEqual([20, 40, 60])
  // keep = 1, yet the 2nd checkpoint survives the 3rd: its pruning never came. (The loop's thread may have written a 4th meanwhile.)
  expect(dataFiles(out)).toEqual(expect.arrayContaining([ckpt(40), ckpt(60)]))
  expect(dataFiles(out)).not.toContain(ckpt(20))
  for (const { file } of listCheckpoints(join(out, 'data')))
    expect(readCheckpoint(join(out, 'data'), file, run!), file).not.toHaveProperty('corrupt')

  const resumed = await runLoopHere(DESCENT, out, { ...env, STEP_MS: '0' })
  expect(resumed.code, resumed.stderr).toBe(0)
  const summary = JSON.parse(resumed.stdout)
  expect(summary.startStep).toBeGreaterThanOrEqual(60)
  expect(summary.digest).toBe(sha256(expected))
  expect(finalBytes(out).equals(expected)).toBe(true)
  expect(dataFiles(out)).toEqual(['final.bin', ckpt(300)])
})
