import { execFileSync } from 'node:child_process'
import { readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { ValueNotRepresentableError } from '../../src/errors.ts'
import { verifyRun } from '../../src/index.ts'
import { ITEM_HASH_BYTES, type ShardFileContent } from '../../src/job/outputs/format.ts'
import { jsonl } from '../../src/job/outputs/jsonl.ts'
import { type NpyDtype, npy, type Tensor, tensor } from '../../src/job/outputs/npy.ts'
import { itemRng } from '../../src/job/rng.ts'
import { fixture, runCli, tempDir } from '../support/cli.ts'

const root = tempDir()

describe('determinism of item random streams', () => {
  it("determinism: an item's stream depends only on (seed, index)", () => {
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
    expect(out.id).toEqual([
      [5, 1],
      [0, 10, 20, 30, 40],
    ])
  })

  it('npy: a record of the wrong type or shape is refused, naming the item and field', () => {
    const shard = npy({ video: 'uint8' }).newShard()
    expect(() => shard.add({ video: new Float32Array(4) }, 7)).toThrow(
      /item 7 field 'video' is a Float32Array: a uint8 field takes a Uint8Array/,
    )
    shard.add({ video: new Uint8Array(4) }, 8)
    expect(() => shard.add({ video: new Uint8Array(5) }, 9)).toThrow(
      /item 9 field 'video' is of shape \[5\]: earlier items of the shard gave it shape \[4\]/,
    )
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
    expect(() => format.itemHashes(new Map([['jsonl', bytes.subarray(0, 10)]]), 2)).toThrow(
      /1 complete lines, expected 2/,
    )
  })

  it('round-trip: jsonl readRecords returns each line as JSON.parse gives it, the records the shard was given', () => {
    const format = jsonl()
    const records = [
      { a: 1, nested: { list: [1, 'two', null, true] } },
      'text with\nnewline and ünïcødé ✓',
      42,
      null,
      [],
      { empty: {} },
    ]
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
        vector: typed(
          dtype,
          Array.from({ length: 3 }, (_, k) => pick(i + k)),
        ),
        scalar: pick(i),
        cube: tensor(
          typed(
            dtype,
            Array.from({ length: 24 }, (_, k) => pick(i * k)),
          ),
          [2, 3, 4],
        ),
        grid: tensor(
          typed(
            dtype,
            Array.from({ length: 6 }, (_, k) => pick(i + 2 * k)),
          ),
          [2, 3],
        ),
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
    const records = [0, 1, 2].map((i) => ({
      mean: Float64Array.of(i / 3, -i),
      grid: tensor(Int16Array.of(i, -i, 300, -300), [2, 2]),
    }))
    const shard = format.newShard()
    records.forEach((record, i) => shard.add(record, i))
    // Each file one byte off its buffer's start: a float64 view of it would throw.
    const files = new Map(
      [...shardFiles(shard.finish())].map(([suffix, bytes]) => [
        suffix,
        Buffer.concat([Buffer.alloc(1), bytes]).subarray(1),
      ]),
    )
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
    expect(() => format.readRecords(new Map([...files, ['id.npy', id.subarray(0, id.length - 1)]]), 3)).toThrow(
      /id.npy has 11 data bytes, expected 12/,
    )
    expect(() => format.readRecords(new Map([...files, ['id.npy', files.get('score.npy')!]]), 3)).toThrow(
      /id.npy has an unexpected header/,
    )
    expect(() => format.readRecords(new Map([...files, ['id.npy', Buffer.from('not numpy at all')]]), 3)).toThrow(
      /id.npy is not an .npy file/,
    )
    expect(() => format.readRecords(new Map([['id.npy', id]]), 3)).toThrow(/no score.npy file/)
  })
})

describe('values-never-changed-silently', () => {
  /** What adding `record` as item 7 throws: index, field and value, as a ValueNotRepresentableError. */
  function refusal(
    add: (record: unknown, index: number) => unknown,
    record: unknown,
  ): { field: string; value: string; message: string } {
    try {
      add(record, 7)
    } catch (error) {
      expect(error).toBeInstanceOf(ValueNotRepresentableError)
      const { index, field, value, message, code } = error as ValueNotRepresentableError
      expect({ index, code }).toEqual({ index: 7, code: 'LONGHAUL_VALUE_NOT_REPRESENTABLE' })
      return { field, value, message }
    }
    throw new Error(`${String(record)} was written`)
  }

  it('jsonl: NaN, ±Infinity, undefined in an array, an invalid Date, a Map or Set, a BigInt, a cycle, too deep a nesting fail the item, naming the field and value', () => {
    const shard = jsonl().newShard()
    const add = shard.add.bind(shard)
    const cyclic: Record<string, unknown> = { a: 1 }
    cyclic.self = { back: cyclic }
    const cases: [unknown, string, RegExp][] = [
      [{ score: NaN }, 'score', /^NaN$/],
      [{ meta: { size: Infinity } }, 'meta.size', /^Infinity$/],
      [{ list: [1, -Infinity] }, 'list[1]', /^-Infinity$/],
      [{ list: [0, undefined] }, 'list[1]', /^undefined$/],
      [{ 'odd key': [() => 1] }, 'odd key"][0]'.replace(/^/, '["'), /^a function/],
      [{ when: new Date(NaN) }, 'when', /invalid Date/],
      [{ seen: new Map([['a', 1]]) }, 'seen', /^a Map$/],
      [{ tags: new Set(['x']) }, 'tags', /^a Set$/],
      [{ meta: { size: 12n } }, 'meta.size', /^12n \(a BigInt\)$/],
      [cyclic, 'self.back', /contains it/],
      [NaN, '', /^NaN$/],
      [undefined, '', /^undefined$/],
      [Array.from({ length: 100_000 }).reduce((inner) => [inner], null), '', /^an Array$/],
    ]
    for (const [record, field, value] of cases) {
      const found = refusal(add, record)
      expect(found.field).toBe(field)
      expect(found.value).toMatch(value)
      expect(found.message).toMatch(new RegExp(`^item 7 ${field ? "field '.+' " : ''}is `))
    }
    // Nothing of a refused item was kept; values JSON holds as they are still go through, null and {} among them.
    for (const [i, ok] of [
      { a: null, b: {}, c: [null], d: 'null {}', e: new Date(0), f: -1e308 },
      { skipped: undefined },
    ].entries())
      shard.add(ok, i)
    expect(Buffer.concat(shard.finish()[0]!.chunks).toString()).toBe(
      '{"a":null,"b":{},"c":[null],"d":"null {}","e":"1970-01-01T00:00:00.000Z","f":-1e+308}\n{}\n',
    )
  })

  it("jsonl: an error thrown by the job's own toJSON keeps the job's frames and none of longhaul's", () => {
    const shard = jsonl().newShard()
    const record = {
      value: {
        toJSON: function jobToJson(): never {
          throw new Error('no JSON for you')
        },
      },
    }
    let thrown: Error | undefined
    try {
      shard.add(record, 4)
    } catch (error) {
      thrown = error as Error
    }
    expect(thrown?.message).toBe('a toJSON method threw while item 4 was written as JSON: no JSON for you')
    expect(thrown?.stack).toMatch(/jobToJson/)
    expect(thrown?.stack).not.toMatch(/JSON\.stringify|src\/job\/outputs/)
  })

  it.each([
    ['uint8', 300, '44'],
    ['uint8', -1.7, '255'],
    ['uint8', 1.7, '1'],
    ['uint8', NaN, '0'],
    ['uint8', -1, '255'],
    ['int8', 200, '-56'],
    ['int8', -129, '127'],
    ['uint16', 65_536, '0'],
    ['int16', 40_000, '-25536'],
    ['uint32', -1, '4294967295'],
    ['int32', 2 ** 40, '0'],
    ['int32', Infinity, '0'],
    ['float32', 1e39, 'Infinity'],
    ['float32', -1e39, '-Infinity'],
  ] as [NpyDtype, number, string][])(
    'npy: %s refuses %s (it would become %s), as a scalar, in an array and in a tensor',
    (dtype, bad, wrapped) => {
      const shard = npy({ x: dtype }).newShard()
      const add = shard.add.bind(shard)
      const scalar = refusal(add, { x: bad })
      expect(scalar).toMatchObject({ field: 'x', value: String(bad) })
      expect(scalar.message).toContain(`would become ${wrapped}`)
      expect(refusal(add, { x: [0, 1, bad] })).toMatchObject({ field: 'x[2]', value: String(bad) })
      expect(refusal(add, { x: tensor([0, 0, 0, 0, bad, 0], [2, 3]) })).toMatchObject({
        field: 'x[1, 1]',
        value: String(bad),
      })
      // What the dtype holds goes through, its extremes and (for floats) NaN and ±Infinity; and nothing refused was kept.
      const held = [...SAMPLES[dtype], ...(dtype.startsWith('float') ? [NaN, Infinity, -Infinity] : [])]
      held.forEach((v, i) => shard.add({ x: v }, i))
      expect(shard.bytes).toBe(held.length * Number(npyDescr(dtype).slice(2)))
      expect(npy({ x: dtype }).readRecords(shardFiles(shard.finish()), held.length)).toStrictEqual(
        held.map((x) => ({ x })),
      )
    },
  )

  it("npy: a value that is not a number, a missing field, and float64 values past float32 fail; float32 precision is float32's", () => {
    const shard = npy({ f: 'float32', d: 'float64' }).newShard()
    const add = shard.add.bind(shard)
    expect(refusal(add, { f: ['3'], d: 1 })).toMatchObject({ field: 'f[0]', value: '"3" (a string)' })
    expect(refusal(add, { f: [null], d: 1 })).toMatchObject({ field: 'f[0]', value: 'null' })
    expect(refusal(add, { f: 1, d: [1, 2n] })).toMatchObject({ field: 'd[1]', value: '2n (a BigInt)' })
    expect(refusal(add, { f: 1 })).toMatchObject({ field: 'd', value: 'missing' })
    expect(refusal(add, { f: Float64Array.of(1e39), d: 1 })).toMatchObject({ field: 'f', value: 'a Float64Array' })
    expect(refusal(add, { f: [3.4e38, 3.5e38], d: 1 })).toMatchObject({ field: 'f[1]', value: '3.5e+38' })
    shard.add({ f: [0.1, true], d: [Number.MAX_VALUE, false] }, 0)
    expect(npy({ f: 'float32', d: 'float64' }).readRecords(shardFiles(shard.finish()), 1)).toStrictEqual([
      { f: Float32Array.of(0.1, 1), d: Float64Array.of(Number.MAX_VALUE, 0) },
    ])
  })

  it.each([
    ['npy', /item 37 field 'label' is 300: uint8 holds 0 to 255 \(it would become 44\)/],
    ['jsonl', /item 37 field 'meta\.size' is 37n \(a BigInt\): JSON has no BigInt/],
  ])(
    "the CLI: a %s run exits 1 naming the item, field and value, tried once, without longhaul's stack; the items before it are kept",
    async (output, message) => {
      const out = join(root, `bad-${output}`)
      const calls = join(root, `calls-${output}`)
      const result = await runCli(
        ['run', fixture('bad-value.ts'), '--out', out, '--workers', '1', '--checkpoint-every', '60'],
        { BAD_AT: '37', BAD_OUTPUT: output, CALLS: calls },
      )
      expect(result.stderr).toMatch(message)
      expect(result.stderr).toMatch(/LONGHAUL_VALUE_NOT_REPRESENTABLE|failed without retries/)
      expect(result.stderr).not.toMatch(/internal error|\n\s+at |src\/job\/outputs/)
      expect(result.code).toBe(1)
      expect(readFileSync(calls, 'utf8')).toBe('37\n')
      const report = await verifyRun(out)
      expect(report.duplicates + report.corrupt).toBe(0)
      // Items 0–36 are committed (other ranges may be too); item 37 is in no shard.
      const shards = readdirSync(join(out, 'data'))
        .flatMap((name) => /^(\d{12})-(\d{12})\./.exec(name) ?? [])
        .filter((_, k) => k % 3 !== 0)
        .map(Number)
      const covered = new Set<number>()
      for (let k = 0; k < shards.length; k += 2) for (let i = shards[k]!; i < shards[k + 1]!; i++) covered.add(i)
      expect(Array.from({ length: 37 }, (_, i) => covered.has(i)).every(Boolean)).toBe(true)
      expect(covered.has(37)).toBe(false)
      expect(report.items).toBe(covered.size)
    },
  )
})

/** A shard's files as readRecords takes them: whole contents keyed by suffix. */
function shardFiles(content: readonly ShardFileContent[]): Map<string, Buffer> {
  return new Map(content.map((file) => [file.suffix, Buffer.concat(file.chunks)]))
}

/** `values` as the typed array of `dtype`. */
function typed(dtype: NpyDtype, values: readonly number[]): Tensor['data'] {
  const arrays = {
    uint8: Uint8Array,
    int8: Int8Array,
    uint16: Uint16Array,
    int16: Int16Array,
    uint32: Uint32Array,
    int32: Int32Array,
    float32: Float32Array,
    float64: Float64Array,
  }
  return new arrays[dtype](values)
}

function npyDescr(dtype: NpyDtype): string {
  return {
    uint8: '|u1',
    int8: '|i1',
    uint16: '<u2',
    int16: '<i2',
    uint32: '<u4',
    int32: '<i4',
    float32: '<f4',
    float64: '<f8',
  }[dtype]
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
