import { ByteBuffer } from './byteBuffer.ts'
import { ITEM_HASH_BYTES, type OutputFormat, type ShardBuilder, type ShardFileContent } from './format.ts'
import { itemHashOf } from './itemHash.ts'
import { findJsonProblem, type JsonProblem } from './jsonProblem.ts'
import { jobFrames, valueError } from './valueProblem.ts'

const NEWLINE_BYTE = 0x0a

/**
 * JSON Lines: one record per line, in index order. An item's hash is sha256 of
 * its line without the newline.
 */
export function jsonl(): OutputFormat {
  return {
    kind: 'jsonl',
    description: { kind: 'jsonl' },
    suffixes: ['jsonl'],
    newShard: newJsonlShard,
    itemHashes(files, count) {
      const hashes = Buffer.allocUnsafe(count * ITEM_HASH_BYTES)
      eachLine(files, count, (line, i) => hashes.set(itemHashOf(line), i * ITEM_HASH_BYTES))
      return hashes
    },
    readRecords(files, count) {
      // The file's lines are all checked before any is parsed: a shard cut short says so, not that its last line is
      // not JSON.
      const lines: Buffer[] = []
      eachLine(files, count, (line) => lines.push(line))
      return lines.map(parseLine)
    },
  }
}

/**
 * Calls `each` with the shard's `count` lines, without their newlines, one at a time: a view of a line is dropped as
 * soon as it is used, so a range's 65,536 views never outlive a young-generation collection (a list of them all cost
 * verify a fifth of its threads' CPU in collections).
 */
function eachLine(files: ReadonlyMap<string, Buffer>, count: number, each: (line: Buffer, i: number) => void): void {
  const data = files.get('jsonl')
  if (!data) throw new TypeError('the shard has no .jsonl file')
  let start = 0
  for (let i = 0; i < count; i++) {
    const end = data.indexOf(NEWLINE_BYTE, start)
    if (end < 0) throw new TypeError(`the .jsonl file holds ${i} complete lines, expected ${count}`)
    each(data.subarray(start, end), i)
    start = end + 1
  }
  if (start !== data.length) throw new TypeError(`the .jsonl file holds more than the ${count} lines recorded`)
}

/** Line `i` (from 0) as `JSON.parse` gives it. */
function parseLine(line: Buffer, i: number): unknown {
  try {
    return JSON.parse(line.toString('utf8'))
  } catch (error) {
    throw new TypeError(`line ${i + 1} of the .jsonl file is not JSON: ${(error as Error).message}`, { cause: error })
  }
}

function newJsonlShard(): ShardBuilder {
  return new JsonlShard()
}

/**
 * A class, not an object of closures made per shard: a worker thread's item loop calls `add` of shard after shard,
 * and V8 keeps its optimised code only while the function called is the same one.
 */
class JsonlShard implements ShardBuilder {
  private readonly out = new ByteBuffer()

  add(record: unknown, index: number): Uint8Array {
    const text = toJson(record, index)
    const start = this.out.length
    return itemHashOf(this.out.view(start, this.out.appendLine(text)))
  }

  get bytes(): number {
    return this.out.length
  }

  finish(): ShardFileContent[] {
    return [{ suffix: 'jsonl', chunks: [this.out.bytes()] }]
  }

  release(): void {
    this.out.release()
  }
}

/**
 * The item's JSON text, or a ValueNotRepresentableError naming the first
 * value JSON.stringify would change or cannot write. Every value it would
 * change (NaN, ±Infinity, undefined in an array, an invalid Date) comes out as
 * `null`, and a Map or Set as `{}`: only a text holding one of those is looked
 * at again, so the usual item costs one search of its text.
 */
function toJson(record: unknown, index: number): string {
  let text: string | undefined
  try {
    text = JSON.stringify(record)
  } catch (error) {
    if (error instanceof RangeError) throw tooDeep(record, index)
    // A BigInt or a cycle: find where. Anything else was thrown by the job's own toJSON: its error, with its frames.
    if (!(error instanceof TypeError) || !/BigInt|circular/i.test(error.message)) throw withJobFrames(error, index)
    const problem = findProblem(record, index)
    if (!problem) throw withJobFrames(error, index)
    throw valueError(index, problem.path, problem.value, problem.reason, problem.shown)
  }
  if (text === undefined || text.includes('null') || text.includes('{}')) {
    const problem = findProblem(record, index)
    if (problem) throw valueError(index, problem.path, problem.value, problem.reason, problem.shown)
    if (text === undefined) throw valueError(index, '', record, 'an item of a jsonl output is a JSON value')
  }
  return text
}

function findProblem(record: unknown, index: number): JsonProblem | undefined {
  try {
    return findJsonProblem(record)
  } catch (error) {
    if (error instanceof RangeError) throw tooDeep(record, index)
    throw withJobFrames(error, index)
  }
}

function tooDeep(record: unknown, index: number): Error {
  return valueError(
    index,
    '',
    record,
    'nested too deeply to be written and checked (the call stack ran out); flatten it',
  )
}

/** An error the job's code threw while its item was written: named as the item's, its stack cut to the job's frames. */
function withJobFrames(error: unknown, index: number): Error {
  const failure = error instanceof Error ? error : new Error(String(error))
  failure.message = `a toJSON method threw while item ${index} was written as JSON: ${failure.message}`
  failure.stack = jobFrames(failure.stack, /^\s+at JSON\.stringify \(/)?.replace(
    /^[^\n]*/,
    `${failure.name}: ${failure.message}`,
  )
  return failure
}
