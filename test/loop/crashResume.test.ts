/**
 * Real crashes of a loop: a child process runs the loop and is SIGKILLed at
 * seeded random moments, then resumed with the same command, until it
 * completes. Its final state must be byte for byte the state of a run that
 * was never interrupted (crash-resume-equivalence), and at every kill the
 * checkpoints on disk must all verify and never go back (no-loss).
 */
import { join } from 'node:path'
import prand from 'pure-rand'
import { expect, it } from 'vitest'
import { hasRun } from '../../src/files/runDir.ts'
import { listCheckpoints, readCheckpoint } from '../../src/work/loop/checkpoints.ts'
import { LONG, tempDir } from '../support/cli.ts'
import { ckpt, DESCENT, dataFiles, finalBytes, readJournal, runLoopHere, sha256, startLoop } from './support.ts'

// Three under npm test (the second early, in start-up); the long run repeats it at forty.
const KILLS = LONG ? 40 : 3
const SEED = 20261121
// 300 steps of 10 ms; a checkpoint every 25 steps or 120 ms, whichever comes first.
const env = { STEP_MS: '10', CKPT_STEPS: '25', CKPT_MS: '120', KEEP: '2' }

it(`crash-resume-equivalence: ${KILLS} SIGKILLs at seeded random moments, each resumed, end in the bytes of an uninterrupted run`, async () => {
  const root = tempDir('longhaul-loop-')
  const reference = join(root, 'reference')
  // Made in this process and at full speed: a loop's final bytes do not depend on its pace.
  const clean = await runLoopHere(DESCENT, reference, { ...env, STEP_MS: '0' })
  expect(clean.code, clean.stderr).toBe(0)
  const expected = finalBytes(reference)
  expect(JSON.parse(clean.stdout).digest).toBe(sha256(expected))

  const out = join(root, 'killed')
  const rng = prand.xoroshiro128plus(SEED)
  let kills = 0
  let newestBefore = 0
  while (kills < KILLS) {
    const { child, done } = startLoop(DESCENT, out, env)
    // One kill in four lands anywhere from start-up on (opening the run, recovering checkpoints); the rest while the loop steps.
    const early = kills % 4 === 1
    const delay = early
      ? prand.unsafeUniformIntDistribution(50, 1_500, rng)
      : prand.unsafeUniformIntDistribution(200, 1_600, rng)
    let timer: NodeJS.Timeout | undefined
    if (early) timer = setTimeout(() => child.kill('SIGKILL'), delay)
    else
      child.stderr!.on(
        'data',
        (chunk: Buffer) =>
          chunk.toString().includes('started at step') && (timer ??= setTimeout(() => child.kill('SIGKILL'), delay)),
      )
    const result = await done
    clearTimeout(timer)
    if (result.signal !== 'SIGKILL') {
      // Finished before the kill landed: allowed only as a complete run.
      expect(result.code, result.stderr).toBe(0)
      break
    }
    kills++
    // A kill before the run recorded itself leaves nothing to check yet.
    if (!hasRun(out)) continue
    const { run } = await readJournal(out)
    if (!run) continue
    // Whatever the instant of the kill, every checkpoint on disk is whole, and the newest never goes back.
    const checkpoints = listCheckpoints(join(out, 'data'))
    for (const { file } of checkpoints)
      expect(readCheckpoint(join(out, 'data'), file, run), file).not.toHaveProperty('corrupt')
    const newest = checkpoints.at(-1)?.step ?? 0
    expect(newest).toBeGreaterThanOrEqual(newestBefore)
    newestBefore = newest
  }
  expect(kills).toBeGreaterThanOrEqual(Math.min(KILLS, 3))

  // The last resume, in this process at full speed: what it ends with does not depend on its pace.
  const final = await runLoopHere(DESCENT, out, { ...env, STEP_MS: '0' })
  expect(final.code, final.stderr).toBe(0)
  const summary = JSON.parse(final.stdout)
  expect(summary).toMatchObject({
    state: 'complete',
    resumed: true,
    committed: 300,
    total: 300,
    digest: sha256(expected),
  })
  expect(finalBytes(out).equals(expected)).toBe(true)
  const { run, events } = await readJournal(out)
  expect(run?.state).toBe('complete')
  expect(events.at(-1)).toMatchObject({ type: 'complete', detail: { digest: sha256(expected), file: 'final.bin' } })
  expect(events.filter((e) => e.type === 'checkpoint-corrupt')).toEqual([])
  // The last session pruned whatever earlier ones left: the KEEP newest checkpoints remain, the last at step 300.
  const files = dataFiles(out)
  expect(files).toHaveLength(3)
  expect(files[0]).toBe('final.bin')
  expect(files.at(-1)).toBe(ckpt(300))
})
