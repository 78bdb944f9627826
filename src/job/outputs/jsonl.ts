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
      const data = files.get('jsonl')
      if (!data) throw new TypeError('the shard has no .jsonl file')
      const hashes = Buffer.allocUnsafe(count * ITEM_HASH_BYTES)
      let start = 0
      for (let i = 0; i < count; i++) {
        const end = data.indexOf(NEWLINE, start)
        if (end < 0) throw new TypeError(`the .jsonl file holds ${i} complete lines, expected ${count}`)
        hashes.set(itemHash([data.subarray(start, end)]), i * ITEM_HASH_BYTES)
        start = end + 1
      }
      if (start !== data.length) throw new TypeError(`the .jsonl file holds more than the ${count} lines recorded`)
      return hashes
    },
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
