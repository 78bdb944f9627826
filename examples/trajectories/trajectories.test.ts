import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import fc from 'fast-check'
import { beforeAll, describe, expect, it } from 'vitest'
import { itemRng } from '../../src/job/rng.ts' // the stream longhaul hands an item as ctx.rng
import { ROOT, runCliHere, tempDir } from '../../test/support/cli.ts'
import { item, type Params, params } from './job.ts'
import { addNoise, BACKGROUND, FOREGROUND, MOTIONS, marginFor, renderClean, trajectory } from './motion.ts'

const DEFAULTS = params.parse({})
const SMALL = params.parse({ frames: 1, size: 16 })

/** Item `index` as a worker makes it. */
function make(index: number, seed = 0, p: Params = DEFAULTS) {
  const made = item(index, {
    index,
    seed,
    params: p,
    rng: itemRng(seed, index),
    fetch,
    take: async () => undefined,
    usage: () => undefined,
  })
  return { video: made.video.data as Uint8Array, shape: made.video.shape, label: made.label }
}

const motion = fc.constantFrom(...MOTIONS)
const seed = fc.nat({ max: 2 ** 32 - 1 })
const index = fc.nat({ max: 1_000_000 })

describe('motion.ts', () => {
  it('object-inside-frame: every motion keeps the whole disc, radius included, inside the margin in every frame', () => {
    fc.assert(
      fc.property(
        motion,
        seed,
        index,
        fc.integer({ min: 16, max: 128 }),
        fc.integer({ min: 1, max: 32 }),
        (m, s, i, size, frames) => {
          const { xs, ys, radius } = trajectory(m, itemRng(s, i), { frames, size })
          const [low, high] = [marginFor(size) + radius - 1e-9, size - marginFor(size) - radius + 1e-9]
          for (let t = 0; t < frames; t++) {
            expect(xs[t]).toBeGreaterThanOrEqual(low)
            expect(xs[t]).toBeLessThanOrEqual(high)
            expect(ys[t]).toBeGreaterThanOrEqual(low)
            expect(ys[t]).toBeLessThanOrEqual(high)
          }
        },
      ),
      { numRuns: 1000 },
    )
  })

  it('object-inside-frame (pixels): the frame edge stays empty and every frame shows as much disc as an unbounded frame would', () => {
    fc.assert(
      fc.property(
        motion,
        seed,
        index,
        fc.integer({ min: 16, max: 96 }),
        fc.integer({ min: 1, max: 16 }),
        (m, s, i, size, frames) => {
          const path = trajectory(m, itemRng(s, i), { frames, size })
          // The same path moved by a whole number of pixels into a frame three times as wide cannot be clipped.
          const unbounded = { ...path, xs: path.xs.map((x) => x + size), ys: path.ys.map((y) => y + size) }
          const [inFrame, reference] = [
            inkPerFrame(renderClean(path, size), size),
            inkPerFrame(renderClean(unbounded, 3 * size), 3 * size),
          ]
          for (let t = 0; t < frames; t++) {
            expect(inFrame[t]!.edge).toBe(0)
            expect(inFrame[t]!.total).toBeCloseTo(reference[t]!.total, 3)
          }
        },
      ),
      { numRuns: 100 },
    )
  })

  it('noise: the added noise is Gaussian with sd 0.2 × 255 around the clean value', () => {
    const noisy = addNoise(new Float32Array(64 * 64 * 16).fill(128), 0.2, itemRng(7, 7))
    const mean = noisy.reduce((a, b) => a + b, 0) / noisy.length
    const sd = Math.sqrt(noisy.reduce((a, b) => a + (b - mean) ** 2, 0) / noisy.length)
    expect(mean).toBeCloseTo(128, 0)
    expect(sd).toBeGreaterThan(0.2 * 255 * 0.97) // clipping at 0 and 255 (2.5 sd away) trims it a little
    expect(sd).toBeLessThan(0.2 * 255 * 1.02)
  })
})

describe('job.ts', () => {
  it('item-shape: an item is a frames × size × size uint8 video and a label 0..3', () => {
    const { video, shape, label } = make(6)
    expect(video).toBeInstanceOf(Uint8Array)
    expect(shape).toEqual([16, 64, 64])
    expect(label).toBe(2)
  })

  it('balanced-labels: each class has exactly a quarter of the items when the total is a multiple of 4', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 250 }), seed, (quarter, s) => {
        const counts = [0, 0, 0, 0]
        for (let i = 0; i < 4 * quarter; i++) counts[make(i, s, SMALL).label]!++
        expect(counts).toEqual([quarter, quarter, quarter, quarter])
      }),
      { numRuns: 20 },
    )
  })

  it('determinism: the same (seed, index) gives identical bytes, whatever was made before', () => {
    fc.assert(
      fc.property(seed, fc.uniqueArray(fc.nat({ max: 10_000 }), { minLength: 2, maxLength: 4 }), (s, indices) => {
        const forwards = indices.map((i) => make(i, s).video)
        const backwards = [...indices]
          .reverse()
          .map((i) => make(i, s).video)
          .reverse()
        forwards.forEach((video, k) => expect(Buffer.from(video).equals(Buffer.from(backwards[k]!))).toBe(true))
      }),
      { numRuns: 5 },
    )
  })

  it('distinct-items: different indices, even of the same class, give different videos', () => {
    const digests = Array.from({ length: 16 }, (_, i) => Buffer.from(make(i).video).toString('base64'))
    expect(new Set(digests).size).toBe(16)
    expect(Buffer.from(make(3, 1).video).equals(Buffer.from(make(3, 2).video))).toBe(false)
  })
})

describe('end to end: longhaul run → load.py', () => {
  const out = join(tempDir('longhaul-trajectories-'), 'run')

  beforeAll(async () => {
    // The CLI's main in this process: the same run and verify as from a shell, without a process start each.
    const run = await runCliHere([
      'run',
      'examples/trajectories/job.ts',
      '--out',
      out,
      '--total',
      '40',
      '--workers',
      '2',
    ])
    expect(run.code, run.stderr).toBe(0)
    const verify = await runCliHere(['verify', out])
    expect(verify.code, verify.stdout + verify.stderr).toBe(0)
  })

  it('python-loader: load.py reads 40 videos (16, 64, 64) uint8 in index order, 10 of each class', () => {
    const printed = execFileSync('python3', ['examples/trajectories/load.py', out], { cwd: ROOT, encoding: 'utf8' })
    expect(printed).toContain('video (40, 16, 64, 64) uint8')
    expect(printed).toContain('label (40,) uint8')
    expect(printed).toContain('label counts {0: 10, 1: 10, 2: 10, 3: 10}')
    const labels = /labels \[([\d\s]*)\]/.exec(printed)?.[1]?.trim().split(/\s+/).map(Number)
    expect(labels).toEqual(Array.from({ length: 40 }, (_, i) => i % 4))
  })

  it('determinism across processes: the shards hold exactly the bytes of each item made here, in index order', () => {
    const data = join(out, 'data')
    const index = JSON.parse(readFileSync(join(data, 'index.json'), 'utf8')) as {
      shards: { start: number; end: number; files: string[] }[]
    }
    let next = 0
    for (const shard of index.shards) {
      expect(shard.start).toBe(next)
      const body = npyBody(readFileSync(join(data, shard.files.find((f) => f.endsWith('.video.npy'))!)))
      const rowBytes = 16 * 64 * 64
      for (let i = shard.start; i < shard.end; i++) {
        const row = body.subarray((i - shard.start) * rowBytes, (i - shard.start + 1) * rowBytes)
        expect(row.equals(Buffer.from(make(i).video)), `item ${i}`).toBe(true)
      }
      next = shard.end
    }
    expect(next).toBe(40)
  })
})

/** The data of a .npy v1 file: after the magic (6), version (2), header length (2) and header. */
function npyBody(file: Buffer): Buffer {
  return file.subarray(10 + file.readUInt16LE(8))
}

/** Per frame: how much disc is drawn (in whole pixels) in all and on the outermost ring of pixels. */
function inkPerFrame(pixels: Float32Array, size: number): { total: number; edge: number }[] {
  return Array.from({ length: pixels.length / (size * size) }, (_, t) => {
    let [total, edge] = [0, 0]
    for (let row = 0; row < size; row++) {
      for (let col = 0; col < size; col++) {
        const ink = (pixels[(t * size + row) * size + col]! - BACKGROUND) / (FOREGROUND - BACKGROUND)
        total += ink
        if (row === 0 || col === 0 || row === size - 1 || col === size - 1) edge += ink
      }
    }
    return { total, edge }
  })
}
