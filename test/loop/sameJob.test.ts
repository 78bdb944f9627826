/**
 * same-job-or-refuse and gate, for loops: a loop resumes only with the same
 * code, params and seed (its number of steps may grow, never shrink); a map
 * job's folder is refused to a loop and the other way round; and the launch
 * gate is asked, with total = steps, before anything is written.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { GateRefusedError, runLoopJob, runMapJob } from '../../src/index.ts'
import type { LaunchFacts } from '../../src/run/identify.ts'
import { fixture, runCliHere, tempDir } from '../support/cli.ts'
import { ckpt, DESCENT, finalBytes, readJournal, runLoopHere, sha256, withLoopEnv } from './support.ts'

const root = tempDir('longhaul-loop-same-')
const env = { CKPT_STEPS: '20', CKPT_MS: '3600000' }

/** Everything a refusal must leave as it was: the data files' bytes and the event log. */
async function snapshot(out: string): Promise<unknown> {
  const data = Object.fromEntries(
    readdirSync(join(out, 'data')).map((name) => [name, sha256(readFileSync(join(out, 'data', name)))]),
  )
  return { data, events: (await readJournal(out)).events.length }
}

describe('same-job-or-refuse (loops)', () => {
  it.each([
    [
      'other params',
      { LOOP_PARAMS: '{"lr":0.1}' },
      /params changed \(\{"lr":0\.05,"size":512\} → \{"lr":0\.1,"size":512\}\)/,
    ],
    ['another seed', { LOOP_SEED: '7' }, /seed changed \(0 → 7\)/],
  ])(
    'resuming with %s is refused (exit 2), naming what changed, and the folder is left as it was',
    async (name, change, changed) => {
      const out = join(root, name.replace(/\W+/g, '-'))
      expect((await runLoopHere(DESCENT, out, env, 40)).code).toBe(0)
      const before = await snapshot(out)
      const refused = await runLoopHere(DESCENT, out, { ...env, ...change }, 40)
      expect(refused.code).toBe(2)
      expect(refused.stderr).toMatch(/holds a run of a different job/)
      expect(refused.stderr).toMatch(changed)
      expect(await snapshot(out)).toEqual(before)
    },
  )

  it("a map job's folder is refused to a loop, and a loop's folder to a map job", async () => {
    const mapDir = join(root, 'map')
    expect(await runMapJob({ jobPath: fixture('squares.ts'), outDir: mapDir, total: 20, workers: 1 })).toMatchObject({
      state: 'complete',
    })
    const loopInMap = await runLoopHere(DESCENT, mapDir, env, 20)
    expect(loopInMap.code).toBe(2)
    expect(loopInMap.stderr).toMatch(/holds a run of a different job: job name changed \(squares → descent\)/)

    const loopDir = join(root, 'loop')
    expect((await runLoopHere(DESCENT, loopDir, env, 20)).code).toBe(0)
    const mapInLoop = await runCliHere([
      'run',
      fixture('squares.ts'),
      '--out',
      loopDir,
      '--total',
      '20',
      '--workers',
      '1',
    ])
    expect(mapInLoop.code).toBe(2)
    expect(mapInLoop.stderr).toMatch(/holds a run of a different job: job name changed \(descent → squares\)/)
  })

  it('steps are not part of the identity: a finished loop continued to more steps ends in the bytes of a run made at that size at once; fewer steps are refused', async () => {
    const direct = join(root, 'direct-300')
    expect((await runLoopHere(DESCENT, direct, env, 300)).code).toBe(0)
    const grown = join(root, 'grown')
    expect((await runLoopHere(DESCENT, grown, env, 150)).code).toBe(0)
    const continued = await runLoopHere(DESCENT, grown, env, 300)
    expect(continued.code, continued.stderr).toBe(0)
    expect(JSON.parse(continued.stdout)).toMatchObject({
      state: 'complete',
      total: 300,
      startStep: 150,
      committedThisSession: 150,
      digest: sha256(finalBytes(direct)),
    })
    expect((await readJournal(grown)).events.filter((e) => e.type === 'extended')).toEqual([
      expect.objectContaining({ detail: { from: 150, to: 300 } }),
    ])

    const shrunk = await runLoopHere(DESCENT, grown, env, 100)
    expect(shrunk.code).toBe(2)
    expect(shrunk.stderr).toMatch(/holds a run of 300 steps; --total can grow it but not shrink it/)
  })
})

describe('gate (loops)', () => {
  it('the launch gate is asked once, with total = steps, before anything is written; a refusal leaves no folder, a clearance is recorded', async () => {
    const asked: LaunchFacts[] = []
    const refusedDir = join(root, 'gate-refused')
    const refuse = async (facts: LaunchFacts): Promise<never> => {
      asked.push(facts)
      throw new GateRefusedError('no proof', [{ met: false, text: 'a passing proof' }], 'longhaul preflight …')
    }
    await expect(
      withLoopEnv(env, () => runLoopJob({ jobPath: DESCENT, outDir: refusedDir, total: 30, gate: refuse })),
    ).rejects.toBeInstanceOf(GateRefusedError)
    expect(asked).toEqual([
      expect.objectContaining({
        job: 'descent',
        total: 30,
        seed: 0,
        kind: 'loop',
        params: { lr: 0.05, size: 512 },
        fingerprint: expect.stringMatching(/^[0-9a-f]{64}$/),
      }),
    ])
    expect(existsSync(refusedDir)).toBe(false)

    const clearedDir = join(root, 'gate-cleared')
    const summary = await withLoopEnv(env, () =>
      runLoopJob({
        jobPath: DESCENT,
        outDir: clearedDir,
        total: 30,
        gate: async () => ({ status: 'not-required', limit: 1000, policy: 'test' }),
      }),
    )
    expect(summary).toMatchObject({ state: 'complete', total: 30, committed: 30 })
    const { events } = await readJournal(clearedDir)
    // A checkpoint every 20 steps (env), and the last one at step 30.
    expect(events.map((e) => e.type)).toEqual(['started', 'gate-not-required', 'checkpoint', 'checkpoint', 'complete'])
    expect(JSON.parse(readFileSync(join(clearedDir, 'progress.json'), 'utf8')).gate).toMatchObject({
      status: 'not-required',
    })
    expect(readdirSync(join(clearedDir, 'data')).sort()).toEqual(['final.bin', ckpt(20), ckpt(30)])
  })
})
