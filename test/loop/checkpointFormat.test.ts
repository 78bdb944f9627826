/**
 * A checkpoint verifies itself (checkpoint-checksum): whatever byte of the
 * file is changed, and wherever it is cut short, reading it reports it
 * corrupt, so no torn or damaged checkpoint is ever loaded. Property-based:
 * random states, metrics, steps, damaged bytes and cut points.
 */
import { readFileSync, truncateSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import fc from 'fast-check'
import { expect, it } from 'vitest'
import {
  bestCheckpoint,
  checkpointName,
  checkpointsToPrune,
  type KeptCheckpoint,
  readCheckpoint,
  writeCheckpoint,
} from '../../src/work/loop/checkpoints.ts'
import { tempDir } from '../support/cli.ts'

const dir = tempDir('longhaul-ckpt-')
const expect_ = { fingerprint: 'f'.repeat(64) }
const checkpoint = fc.record({
  step: fc.integer({ min: 1, max: 1e9 }),
  payload: fc.uint8Array({ minLength: 0, maxLength: 3000 }),
  // Metrics go through JSON, which writes -0 as 0.
  loss: fc.double({ noNaN: true, noDefaultInfinity: true }).map((v) => (Object.is(v, -0) ? 0 : v)),
})

function write(c: { step: number; payload: Uint8Array; loss: number }): Buffer {
  writeCheckpoint(
    dir,
    {
      job: 'j',
      fingerprint: expect_.fingerprint,
      step: c.step,
      metrics: { loss: c.loss },
      savedAt: new Date(0).toISOString(),
    },
    c.payload,
  )
  return readFileSync(join(dir, checkpointName(c.step)))
}

it('checkpoint-checksum: an intact checkpoint gives back its step, metrics and exact state', () => {
  fc.assert(
    fc.property(checkpoint, (c) => {
      write(c)
      const read = readCheckpoint(dir, checkpointName(c.step), expect_)
      if ('corrupt' in read) throw new Error(read.corrupt)
      expect(read.info).toMatchObject({ step: c.step, metrics: { loss: c.loss }, payloadBytes: c.payload.length })
      expect(Buffer.from(read.payload).equals(Buffer.from(c.payload))).toBe(true)
    }),
    { numRuns: 60 },
  )
})

it('checkpoint-checksum: any changed byte anywhere in the file is reported corrupt', () => {
  fc.assert(
    fc.property(checkpoint, fc.nat(), fc.integer({ min: 1, max: 255 }), (c, at, mask) => {
      const bytes = write(c)
      const offset = at % bytes.length
      bytes[offset] = bytes[offset]! ^ mask
      writeFileSync(join(dir, checkpointName(c.step)), bytes)
      expect(readCheckpoint(dir, checkpointName(c.step), expect_)).toHaveProperty('corrupt')
    }),
    { numRuns: 300 },
  )
})

it('checkpoint-checksum: a checkpoint cut short anywhere, or with bytes added, is reported corrupt', () => {
  fc.assert(
    fc.property(checkpoint, fc.nat(), fc.boolean(), (c, at, grow) => {
      const bytes = write(c)
      const path = join(dir, checkpointName(c.step))
      if (grow) writeFileSync(path, Buffer.concat([bytes, Buffer.from([at % 256])]))
      else truncateSync(path, at % bytes.length)
      expect(readCheckpoint(dir, checkpointName(c.step), expect_)).toHaveProperty('corrupt')
    }),
    { numRuns: 200 },
  )
})

it("checkpoint-checksum: a whole checkpoint of another job (another fingerprint), or under another step's name, is not taken", () => {
  const bytes = write({ step: 7, payload: new Uint8Array([1, 2, 3]), loss: 1 })
  expect(readCheckpoint(dir, checkpointName(7), { fingerprint: 'e'.repeat(64) })).toMatchObject({
    corrupt: expect.stringMatching(/another job/),
  })
  writeFileSync(join(dir, checkpointName(8)), bytes)
  expect(readCheckpoint(dir, checkpointName(8), expect_)).toMatchObject({
    corrupt: expect.stringMatching(/says step 7/),
  })
})

it('keep-last-k-plus-best: pruning keeps the K newest and the best by its metric, earliest of equals, never a checkpoint without a finite value', () => {
  fc.assert(
    fc.property(
      fc.uniqueArray(fc.integer({ min: 1, max: 1000 }), { minLength: 1, maxLength: 30 }),
      fc.array(fc.option(fc.integer({ min: 0, max: 20 }), { nil: null }), { minLength: 30, maxLength: 30 }),
      fc.integer({ min: 1, max: 5 }),
      fc.constantFrom('min' as const, 'max' as const),
      (steps, scores, keep, mode) => {
        const all: KeptCheckpoint[] = steps.map((step, i) => ({
          file: checkpointName(step),
          step,
          metrics: { score: scores[i] ?? null },
        }))
        const pruned = new Set(checkpointsToPrune(all, keep, { metric: 'score', mode }))
        const left = all.filter((c) => !pruned.has(c.file))
        const newest = [...all].sort((a, b) => b.step - a.step).slice(0, keep)
        const scored = all.filter((c) => c.metrics.score !== null).sort((a, b) => a.step - b.step)
        const values = scored.map((c) => c.metrics.score as number)
        const target = mode === 'min' ? Math.min(...values) : Math.max(...values)
        const best = scored.find((c) => c.metrics.score === target)
        expect(new Set(left.map((c) => c.file))).toEqual(
          new Set([...newest, ...(best ? [best] : [])].map((c) => c.file)),
        )
        expect(bestCheckpoint(all, { metric: 'score', mode })).toEqual(best)
      },
    ),
  )
})
