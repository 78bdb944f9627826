import { ByteBuffer } from './byteBuffer.ts'
import { itemHash } from './itemHash.ts'
import { ITEM_HASH_BYTES, type OutputFormat, type ShardBuilder } from './format.ts'

const NEWLINE = Buffer.from('\n')

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
      lines(files, count).forEach((line, i) => hashes.set(itemHash([line]), i * ITEM_HASH_BYTES))
      return hashes
    },
    readRecords: (files, count) => lines(files, count).map(parseLine),
  }
}

/** The shard's `count` lines, without their newlines. */
function lines(files: ReadonlyMap<string, Buffer>, count: number): Buffer[] {
  const data = files.get('jsonl')
  if (!data) throw new TypeError('the shard has no .jsonl file')
  const found: Buffer[] = []
  let start = 0
  for (let i = 0; i < count; i++) {
    const end = data.indexOf(NEWLINE, start)
    if (end < 0) throw new TypeError(`the .jsonl file holds ${i} complete lines, expected ${count}`)
    found.push(data.subarray(start, end))
    start = end + 1
  }
  if (start !== data.length) throw new TypeError(`the .jsonl file holds more than the ${count} lines recorded`)
  return found
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
  const out = new ByteBuffer()
  return {
    add(record, index) {
      const text = JSON.stringify(record)
      if (text === undefined) throw new TypeError(`item ${index} returned ${String(record)}, which is not JSON`)
      const [start, end] = out.appendText(text)
      out.appendByte(0x0a)
      return itemHash([out.view(start, end)])
    },
    get bytes() {
      return out.length
    },
    finish: () => [{ suffix: 'jsonl', chunks: [out.bytes()] }],
  }
}
