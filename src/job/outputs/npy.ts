import { endianness } from 'node:os'
import { ByteBuffer } from './byteBuffer.ts'
import { ITEM_HASH_BYTES, type OutputFormat, type ShardBuilder, type ShardFileContent } from './format.ts'
import { itemHash } from './itemHash.ts'
import { valueError } from './valueProblem.ts'

/**
 * NumPy `.npy` files, one per field per shard (`data/<range>.<field>.npy`),
 * readable by `numpy.load`, memory-mapped if wished. Each item contributes one
 * row to every field; an item's hash is sha256 over its rows, fields in the
 * declared order.
 */

const DTYPES = {
  uint8: { descr: '|u1', array: Uint8Array, kind: 'int', min: 0, max: 0xff },
  int8: { descr: '|i1', array: Int8Array, kind: 'int', min: -0x80, max: 0x7f },
  uint16: { descr: '<u2', array: Uint16Array, kind: 'int', min: 0, max: 0xffff },
  int16: { descr: '<i2', array: Int16Array, kind: 'int', min: -0x8000, max: 0x7fff },
  uint32: { descr: '<u4', array: Uint32Array, kind: 'int', min: 0, max: 0xffffffff },
  int32: { descr: '<i4', array: Int32Array, kind: 'int', min: -0x80000000, max: 0x7fffffff },
  float32: { descr: '<f4', array: Float32Array, kind: 'float32', min: -Infinity, max: Infinity },
  float64: { descr: '<f8', array: Float64Array, kind: 'float64', min: -Infinity, max: Infinity },
} as const

export type NpyDtype = keyof typeof DTYPES
type TypedArray =
  | InstanceType<(typeof DTYPES)[NpyDtype]['array']>
  | Uint8Array<ArrayBufferLike>
  | Int8Array<ArrayBufferLike>
  | Uint16Array<ArrayBufferLike>
  | Int16Array<ArrayBufferLike>
  | Uint32Array<ArrayBufferLike>
  | Int32Array<ArrayBufferLike>
  | Float32Array<ArrayBufferLike>
  | Float64Array<ArrayBufferLike>

/** A value with a shape, for fields that are more than a flat vector. */
export interface Tensor {
  readonly data: TypedArray | readonly number[]
  readonly shape: readonly number[]
}

/** Marks `data` as an array of the given per-item shape, e.g. `tensor(frames, [16, 64, 64])`. */
export function tensor(data: TypedArray | readonly number[], shape: readonly number[]): Tensor {
  const size = shape.reduce((a, b) => a * b, 1)
  if (size !== data.length)
    throw new RangeError(`tensor shape [${shape.join(', ')}] holds ${size} values, data has ${data.length}`)
  return { data, shape }
}

if (endianness() !== 'LE') throw new Error('longhaul writes .npy on little-endian machines only')

const MAGIC = Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 0x01, 0x00]) // \x93NUMPY v1.0

/** `npy({ video: 'uint8', label: 'uint8' })`: one .npy file per field per shard. */
export function npy(fields: Readonly<Record<string, NpyDtype>>): OutputFormat {
  const names = Object.keys(fields)
  if (names.length === 0) throw new TypeError('npy() needs at least one field, e.g. npy({ label: "uint8" })')
  for (const name of names) {
    if (!/^[A-Za-z0-9_-]+$/.test(name))
      throw new TypeError(`npy field name '${name}' must be letters, digits, _ or - (it becomes part of a file name)`)
    if (!(fields[name]! in DTYPES)) {
      throw new TypeError(
        `npy field '${name}' has dtype '${fields[name]}'; use one of ${Object.keys(DTYPES).join(', ')}`,
      )
    }
  }
  const specs = names.map((name) => ({ name, dtype: fields[name]!, ...DTYPES[fields[name]!] }))
  return {
    kind: 'npy',
    description: { kind: 'npy', fields: { ...fields } },
    suffixes: names.map((name) => `${name}.npy`),
    newShard: () => newNpyShard(specs),
    itemHashes(files, count) {
      const stored = readFields(specs, files, count)
      const hashes = Buffer.allocUnsafe(count * ITEM_HASH_BYTES)
      for (let i = 0; i < count; i++) hashes.set(itemHash(stored.map((field) => rowOf(field, i))), i * ITEM_HASH_BYTES)
      return hashes
    },
    readRecords(files, count) {
      const stored = readFields(specs, files, count)
      return Array.from({ length: count }, (_, i) =>
        Object.fromEntries(stored.map((field) => [field.spec.name, valueOf(field, i)])),
      )
    },
  }
}

interface FieldSpec {
  readonly name: string
  readonly dtype: NpyDtype
  readonly descr: string
  readonly array: (typeof DTYPES)[NpyDtype]['array']
  readonly kind: 'int' | 'float32' | 'float64'
  /** The range of an integer dtype. */
  readonly min: number
  readonly max: number
}

/** One field's file of a written shard, its header checked against the declaration. */
interface StoredField {
  readonly spec: FieldSpec
  readonly body: Buffer
  readonly rowBytes: number
  /** The shape of one item's value: [] for a number, [n] for a vector, more for a tensor. */
  readonly itemShape: readonly number[]
}

function readFields(specs: readonly FieldSpec[], files: ReadonlyMap<string, Buffer>, count: number): StoredField[] {
  return specs.map((spec) => {
    const data = files.get(`${spec.name}.npy`)
    if (!data) throw new TypeError(`the shard has no ${spec.name}.npy file`)
    return { spec, ...readRows(data, spec.descr, count, spec.name) }
  })
}

/** Item `i`'s bytes in the field's file. */
function rowOf(field: StoredField, i: number): Buffer {
  return field.body.subarray(i * field.rowBytes, (i + 1) * field.rowBytes)
}

/** Item `i`'s value as `numpy.load` gives its row: a number, a vector or a tensor, copied out of the file's bytes. */
function valueOf(field: StoredField, i: number): number | TypedArray | Tensor {
  // new Uint8Array(...) copies: the values are aligned for their dtype and independent of the file's buffer.
  const values = new field.spec.array(new Uint8Array(rowOf(field, i)).buffer)
  if (field.itemShape.length === 0) return values[0]!
  return field.itemShape.length === 1 ? values : tensor(values, field.itemShape)
}

function newNpyShard(specs: readonly FieldSpec[]): ShardBuilder {
  const columns = specs.map((spec) => ({
    spec,
    shape: undefined as readonly number[] | undefined,
    rows: new ByteBuffer(),
  }))
  let count = 0
  let bytes = 0
  return {
    add(record, index) {
      if (typeof record !== 'object' || record === null) {
        throw valueError(
          index,
          '',
          record,
          `an npy job's item returns an object with fields ${specs.map((s) => s.name).join(', ')}`,
        )
      }
      // Every field is checked before any is kept, so a bad field leaves the shard as it was.
      const parts = columns.map((column) => {
        const { row, shape } = toRow((record as Record<string, unknown>)[column.spec.name], column.spec, index)
        if (column.shape !== undefined && !sameShape(column.shape, shape)) {
          throw valueError(
            index,
            column.spec.name,
            undefined,
            `earlier items of the shard gave it shape [${column.shape.join(', ')}]: every item gives a field the same shape`,
            `of shape [${shape.join(', ')}]`,
          )
        }
        return { column, row, shape }
      })
      for (const { column, row, shape } of parts) {
        column.shape ??= shape
        column.rows.append(row)
        bytes += row.length
      }
      count++
      return itemHash(parts.map((part) => part.row))
    },
    get bytes() {
      return bytes
    },
    finish(): ShardFileContent[] {
      return columns.map((column) => ({
        suffix: `${column.spec.name}.npy`,
        chunks: [npyHeader(column.spec.descr, [count, ...(column.shape ?? [])]), column.rows.bytes()],
      }))
    },
    release() {
      for (const column of columns) column.rows.release()
    },
  }
}

function toRow(value: unknown, spec: FieldSpec, index: number): { row: Buffer; shape: readonly number[] } {
  if (typeof value === 'number' || typeof value === 'boolean') {
    const one = new spec.array(1)
    const v = Number(value)
    one[0] = v
    if (one[0] !== v) {
      const reason = cannotHold(spec, v, one[0]!)
      if (reason) throw valueError(index, spec.name, value, reason)
    }
    return { row: Buffer.from(one.buffer), shape: [] }
  }
  let data: unknown = value
  let shape: readonly number[] | undefined
  if (typeof value === 'object' && value !== null && 'shape' in value && 'data' in value) {
    data = (value as Tensor).data
    shape = (value as Tensor).shape
  }
  let typed: TypedArray
  // A typed array of the field's own type holds only values the field can: written as it is.
  if (data instanceof spec.array) typed = data
  else if (Array.isArray(data)) typed = fromNumbers(data, spec, index, shape ?? [data.length])
  else if (ArrayBuffer.isView(data)) {
    throw valueError(
      index,
      spec.name,
      data,
      `a ${spec.dtype} field takes a ${spec.array.name} (written as it is), a number, an array of numbers, or tensor(data, shape)`,
    )
  } else {
    throw valueError(
      index,
      spec.name,
      value,
      `a ${spec.dtype} field takes a number, a ${spec.array.name}, an array of numbers, or tensor(data, shape)`,
      value === undefined ? 'missing' : undefined,
    )
  }
  return { row: Buffer.from(typed.buffer, typed.byteOffset, typed.byteLength), shape: shape ?? [typed.length] }
}

/**
 * The values as the field's typed array, each checked as it is written: a
 * value the dtype cannot hold as it is (300 or 1.7 or NaN in uint8, 1e39 in
 * float32, a string) fails the item instead of being wrapped, truncated or
 * made 0. Only a value that reads back different from what was written is
 * looked at closer (cannotHold).
 */
function fromNumbers(values: readonly unknown[], spec: FieldSpec, index: number, shape: readonly number[]): TypedArray {
  const typed = new spec.array(values.length)
  for (let k = 0; k < values.length; k++) {
    const v = values[k]
    if (typeof v === 'number') {
      typed[k] = v
      if (typed[k] === v) continue
      const reason = cannotHold(spec, v, typed[k]!)
      if (reason) throw valueError(index, `${spec.name}[${unravel(k, shape).join(', ')}]`, v, reason)
    } else if (typeof v === 'boolean') {
      typed[k] = Number(v)
    } else {
      throw valueError(
        index,
        `${spec.name}[${unravel(k, shape).join(', ')}]`,
        v,
        `a ${spec.dtype} field holds numbers (or booleans)`,
      )
    }
  }
  return typed
}

/**
 * Why the field cannot hold `v`, which its typed array stored as `written`;
 * undefined when it can. An integer dtype holds `v` exactly when it reads
 * back the same. float32 rounds to its precision (that is what float32 is)
 * but must not overflow to Infinity; NaN and ±Infinity are values of float32
 * and float64.
 */
function cannotHold(spec: FieldSpec, v: number, written: number): string | undefined {
  if (spec.kind === 'float64') return undefined
  if (spec.kind === 'float32') {
    return (written === Infinity || written === -Infinity) && !Number.isNaN(v)
      ? `float32's largest is ±3.4028235e38 (it would become ${written}); declare float64, or scale it first`
      : undefined
  }
  if (Number.isNaN(v))
    return `${spec.dtype} has no NaN (it would become ${written}); declare float32 or float64, or return a number`
  if (v < spec.min || v > spec.max)
    return `${spec.dtype} holds ${spec.min} to ${spec.max} (it would become ${written}); clamp or scale it first, or declare a wider dtype`
  return `${spec.dtype} holds whole numbers only (it would become ${written}); round it first (Math.round), or declare float32 or float64`
}

/** Flat index `k` of an array of `shape` as one index per dimension. */
function unravel(k: number, shape: readonly number[]): number[] {
  const at: number[] = []
  let rest = k
  for (let d = shape.length - 1; d >= 0; d--) {
    const size = shape[d]! || 1
    at.unshift(rest % size)
    rest = Math.floor(rest / size)
  }
  return at.length ? at : [k]
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((n, i) => n === b[i])
}

/** The v1.0 header: magic, length, a Python dict literal, padded with spaces to a multiple of 64. */
function npyHeader(descr: string, shape: readonly number[]): Buffer {
  const dims = shape.length === 1 ? `${shape[0]},` : shape.join(', ')
  let dict = `{'descr': '${descr}', 'fortran_order': False, 'shape': (${dims}), }`
  const unpadded = MAGIC.length + 2 + dict.length + 1
  dict = `${dict + ' '.repeat((64 - (unpadded % 64)) % 64)}\n`
  const length = Buffer.alloc(2)
  length.writeUInt16LE(dict.length)
  return Buffer.concat([MAGIC, length, Buffer.from(dict, 'latin1')])
}

function readRows(
  data: Buffer,
  descr: string,
  count: number,
  name: string,
): { body: Buffer; rowBytes: number; itemShape: number[] } {
  if (data.length < 10 || !data.subarray(0, 6).equals(MAGIC.subarray(0, 6)))
    throw new TypeError(`${name}.npy is not an .npy file`)
  const headerLength = data.readUInt16LE(8)
  const header = data.subarray(10, 10 + headerLength).toString('latin1')
  const shapeMatch = /'shape': \(([^)]*)\)/.exec(header)
  if (!header.includes(`'descr': '${descr}'`) || !shapeMatch)
    throw new TypeError(`${name}.npy has an unexpected header: ${header.trim()}`)
  const shape = shapeMatch[1]!
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map(Number)
  if (shape[0] !== count) throw new TypeError(`${name}.npy holds ${shape[0]} rows, expected ${count}`)
  const itemSize = Number(descr.slice(2))
  const rowBytes = shape.slice(1).reduce((a, b) => a * b, 1) * itemSize
  const body = data.subarray(10 + headerLength)
  if (body.length !== rowBytes * count)
    throw new TypeError(`${name}.npy has ${body.length} data bytes, expected ${rowBytes * count}`)
  return { body, rowBytes, itemShape: shape.slice(1) }
}
