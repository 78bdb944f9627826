import { execFileSync } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { ITEM_HASH_BYTES } from '../../src/job/outputs/format.ts'
import { jsonl } from '../../src/job/outputs/jsonl.ts'
import { npy, tensor } from '../../src/job/outputs/npy.ts'
import { itemRng } from '../../src/job/rng.ts'
import { tempDir } from '../support/cli.ts'

const root = tempDir()

describe('determinism of item random streams', () => {
  it('determinism: an item\'s stream depends only on (seed, index)', () => {
    fc.assert(
      fc.property(fc.nat(), fc.nat(), (seed, index) => {
        const a = itemRng(seed, index)
        const b = itemRng(seed, index)
        const drawsA = [a.next(), a.int(0, 1000), a.normal()]
        expect([b.next(), b.int(0, 1000), b.normal()]).toEqual(drawsA)
        const other = itemRng(seed, index + 1)
        expect(other.next()).not.toBe(drawsA[0])
      }),
    )
  })

  it('rng.next is uniform in [0, 1) and rng.int stays in its bounds', () => {
    const rng = itemRng(1, 2)
    let sum = 0
    for (let i = 0; i < 20_000; i++) {
      const x = rng.next()
      expect(x >= 0 && x < 1).toBe(true)
      sum += x
      const k = rng.int(-3, 3)
      expect(k >= -3 && k <= 3 && Number.isInteger(k)).toBe(true)
    }
    expect(Math.abs(sum / 20_000 - 0.5)).toBeLessThan(0.01)
  })
})

describe('output formats', () => {
  it('npy: a shard is a valid .npy file per field that numpy loads (also memory-mapped), and item hashes read back equal those written', () => {
    const format = npy({ video: 'uint8', score: 'float32', id: 'int32' })
    const shard = format.newShard()
    const written: Uint8Array[] = []
    for (let i = 0; i < 5; i++) {
      const frames = new Uint8Array(2 * 3 * 4).map((_, k) => (k + i) % 256)
      written.push(shard.add({ video: tensor(frames, [2, 3, 4]), score: i / 2, id: [i * 10] }, i))
    }
    const files = new Map(shard.finish().map((f) => [f.suffix, Buffer.concat(f.chunks as Buffer[])]))
    for (const [suffix, bytes] of files) writeFileSync(join(root, suffix), bytes)
    expect(format.itemHashes(files, 5)).toEqual(Buffer.concat(written))

    const script = `
import numpy as np, json, sys
v = np.load(sys.argv[1] + '/video.npy', mmap_mode='r'); s = np.load(sys.argv[1] + '/score.npy'); i = np.load(sys.argv[1] + '/id.npy')
print(json.dumps({'video': [list(v.shape), str(v.dtype), int(v[4, 1, 2, 3])], 'score': [list(s.shape), str(s.dtype), s.tolist()], 'id': [list(i.shape), i[:, 0].tolist()]}))`
    const out = JSON.parse(execFileSync('python3', ['-c', script, root], { encoding: 'utf8' }))
    expect(out.video).toEqual([[5, 2, 3, 4], 'uint8', (1 * 12 + 2 * 4 + 3 + 4) % 256])
    expect(out.score).toEqual([[5], 'float32', [0, 0.5, 1, 1.5, 2]])
    expect(out.id).toEqual([[5, 1], [0, 10, 20, 30, 40]])
  })

  it('npy: a record of the wrong type or shape is refused, naming the item and field', () => {
    const shard = npy({ video: 'uint8' }).newShard()
    expect(() => shard.add({ video: new Float32Array(4) }, 7)).toThrow(/item 7 field 'video' is a Float32Array; .* return a Uint8Array/)
    shard.add({ video: new Uint8Array(4) }, 8)
    expect(() => shard.add({ video: new Uint8Array(5) }, 9)).toThrow(/item 9 field 'video' has shape \[5\], earlier items \[4\]/)
    expect(() => npy({ 'bad name': 'uint8' })).toThrow(/must be letters/)
  })

  it('jsonl: one line per item; a truncated file is detected when read back', () => {
    const format = jsonl()
    const shard = format.newShard()
    shard.add({ a: 1 }, 0)
    shard.add({ b: 'x\ny' }, 1)
    const bytes = Buffer.concat(shard.finish()[0]!.chunks as Buffer[])
    expect(bytes.toString()).toBe('{"a":1}\n{"b":"x\\ny"}\n')
    expect(format.itemHashes(new Map([['jsonl', bytes]]), 2)).toHaveLength(2 * ITEM_HASH_BYTES)
    expect(() => format.itemHashes(new Map([['jsonl', bytes.subarray(0, 10)]]), 2)).toThrow(/1 complete lines, expected 2/)
  })
})
