import { execFileSync } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { ITEM_HASH_BYTES, type ShardFileContent } from '../../src/job/outputs/format.ts'
import { jsonl } from '../../src/job/outputs/jsonl.ts'
import { npy, tensor, type NpyDtype, type Tensor } from '../../src/job/outputs/npy.ts'
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

  it('round-trip: jsonl readRecords returns each line as JSON.parse gives it, the records the shard was given', () => {
    const format = jsonl()
    const records = [{ a: 1, nested: { list: [1, 'two', null, true] } }, 'text with\nnewline and ünïcødé ✓', 42, null, [], { empty: {} }]
    const shard = format.newShard()
    records.forEach((record, i) => shard.add(record, i))
    expect(format.readRecords(shardFiles(shard.finish()), records.length)).toStrictEqual(records)
  })

  it.each(Object.keys(SAMPLES) as NpyDtype[])(
    'round-trip: npy readRecords returns the records the shard was given, fields in declared order: a number, a vector or a tensor (%s)',
    (dtype) => {
      // Fields declared out of alphabetical order, so the order of keys is the declaration's.
      const format = npy({ vector: dtype, scalar: dtype, cube: dtype, grid: dtype })
      const samples = SAMPLES[dtype]
      const pick = (k: number): number => samples[k % samples.length]!
      const records = Array.from({ length: 4 }, (_, i) => ({
        vector: typed(dtype, Array.from({ length: 3 }, (_, k) => pick(i + k))),
        scalar: pick(i),
        cube: tensor(typed(dtype, Array.from({ length: 24 }, (_, k) => pick(i * k))), [2, 3, 4]),
        grid: tensor(typed(dtype, Array.from({ length: 6 }, (_, k) => pick(i + 2 * k))), [2, 3]),
      }))
      const shard = format.newShard()
      records.forEach((record, i) => shard.add(record, i))
      const read = format.readRecords(shardFiles(shard.finish()), records.length)
      expect(read).toStrictEqual(records)
      expect(Object.keys(read[0]!)).toEqual(['vector', 'scalar', 'cube', 'grid'])
    },
  )

  it('round-trip: npy readRecords copies values out of the file, so they are aligned and independent of its buffer', () => {
    const format = npy({ mean: 'float64', grid: 'int16' })
    const records = [0, 1, 2].map((i) => ({ mean: Float64Array.of(i / 3, -i), grid: tensor(Int16Array.of(i, -i, 300, -300), [2, 2]) }))
    const shard = format.newShard()
    records.forEach((record, i) => shard.add(record, i))
    // Each file one byte off its buffer's start: a float64 view of it would throw.
    const files = new Map([...shardFiles(shard.finish())].map(([suffix, bytes]) => [suffix, Buffer.concat([Buffer.alloc(1), bytes]).subarray(1)]))
    const read = format.readRecords(files, records.length)
    for (const bytes of files.values()) bytes.fill(0)
    expect(read).toStrictEqual(records)
  })

  it('readRecords refuses a malformed shard, naming what is wrong', () => {
    const lines = jsonl()
    const text = shardFiles([{ suffix: 'jsonl', chunks: [Buffer.from('{"a":1}\n{"b":\n')] }])
    expect(() => lines.readRecords(text, 2)).toThrow(/line 2 of the .jsonl file is not JSON/)
    expect(() => lines.readRecords(text, 3)).toThrow(/2 complete lines, expected 3/)
    expect(() => lines.readRecords(new Map(), 1)).toThrow(/no .jsonl file/)

    const format = npy({ id: 'int32', score: 'float32' })
    const shard = format.newShard()
    for (let i = 0; i < 3; i++) shard.add({ id: i, score: i / 4 }, i)
    const files = shardFiles(shard.finish())
    const id = files.get('id.npy')!
    expect(() => format.readRecords(files, 2)).toThrow(/id.npy holds 3 rows, expected 2/)
    expect(() => format.readRecords(new Map([...files, ['id.npy', id.subarray(0, id.length - 1)]]), 3)).toThrow(/id.npy has 11 data bytes, expected 12/)
    expect(() => format.readRecords(new Map([...files, ['id.npy', files.get('score.npy')!]]), 3)).toThrow(/id.npy has an unexpected header/)
    expect(() => format.readRecords(new Map([...files, ['id.npy', Buffer.from('not numpy at all')]]), 3)).toThrow(/id.npy is not an .npy file/)
    expect(() => format.readRecords(new Map([['id.npy', id]]), 3)).toThrow(/no score.npy file/)
  })
})

/** A shard's files as readRecords takes them: whole contents keyed by suffix. */
function shardFiles(content: readonly ShardFileContent[]): Map<string, Buffer> {
  return new Map(content.map((file) => [file.suffix, Buffer.concat(file.chunks)]))
}

/** `values` as the typed array of `dtype`. */
function typed(dtype: NpyDtype, values: readonly number[]): Tensor['data'] {
  const arrays = { uint8: Uint8Array, int8: Int8Array, uint16: Uint16Array, int16: Int16Array, uint32: Uint32Array, int32: Int32Array, float32: Float32Array, float64: Float64Array }
  return new arrays[dtype](values)
}

/** Values each dtype holds exactly, its extremes among them. */
const SAMPLES: Record<NpyDtype, readonly number[]> = {
  uint8: [0, 1, 127, 255],
  int8: [-128, -1, 0, 127],
  uint16: [0, 300, 65_535],
  int16: [-32_768, -2, 0, 32_767],
  uint32: [0, 70_000, 4_294_967_295],
  int32: [-2_147_483_648, -7, 0, 2_147_483_647],
  float32: [-1.5, 0, 0.25, Math.fround(3.4e38), Math.fround(1e-40)],
  float64: [-1e300, Math.PI, 0, Number.MIN_VALUE, -0.1],
}
