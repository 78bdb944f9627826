/**
 * keep-last-k-plus-best: after a run exactly the K newest checkpoints remain,
 * plus the best by the loop's metric when it asks for one, plus final.bin;
 * every one left verifies, and the journal records every checkpoint made.
 */
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { readCheckpoint } from '../../src/work/loop/checkpoints.ts'
import { scoreAt } from '../fixtures/loops/descent.ts'
import { tempDir } from '../support/cli.ts'
import { ckpt, DESCENT, dataFiles, finalBytes, readJournal, runLoop, sha256 } from './support.ts'

const root = tempDir('longhaul-loop-keep-')
const STEPS = Array.from({ length: 15 }, (_, i) => 20 * (i + 1))
const bestBy = (mode: 'min' | 'max'): number =>
  STEPS.reduce((best, step) =>
    (mode === 'min' ? scoreAt(step) < scoreAt(best) : scoreAt(step) > scoreAt(best)) ? step : best,
  )

describe('keep-last-k-plus-best', () => {
  it.each([
    { keep: 3, best: undefined, left: [260, 280, 300] },
    { keep: 1, best: undefined, left: [300] },
    { keep: 1, best: 'max' as const, left: [bestBy('max'), 300] },
    { keep: 2, best: 'min' as const, left: [bestBy('min'), 280, 300] },
  ])('keep $keep, best $best: exactly the $left checkpoints and final.bin remain', async ({ keep, best, left }) => {
    const out = join(root, `keep-${keep}-${best}`)
    const result = await runLoop(DESCENT, out, {
      CKPT_STEPS: '20',
      CKPT_MS: '3600000',
      KEEP: String(keep),
      ...(best && { BEST: best }),
    })
    expect(result.code, result.stderr).toBe(0)
    expect(dataFiles(out)).toEqual(['final.bin', ...[...new Set(left)].sort((a, b) => a - b).map(ckpt)])

    const { run, events } = await readJournal(out)
    const made = events.filter((e) => e.type === 'checkpoint')
    expect(made.map((e) => e.detail.step)).toEqual(STEPS)
    for (const e of made)
      expect(e.detail.metrics).toMatchObject({ score: scoreAt(e.detail.step as number), loss: expect.any(Number) })
    for (const step of left) {
      const read = readCheckpoint(join(out, 'data'), ckpt(step), run!)
      expect(read).toMatchObject({ info: { step, metrics: { score: scoreAt(step) } } })
    }
    // final.bin is the state after the last step: the last checkpoint's state, and the digest is its sha256.
    const last = readCheckpoint(join(out, 'data'), ckpt(300), run!) as { payload: Uint8Array }
    expect(Buffer.from(last.payload).equals(finalBytes(out))).toBe(true)
    expect(events.at(-1)).toMatchObject({ type: 'complete', detail: { digest: sha256(finalBytes(out)) } })
  })
})
