/**
 * The channel from a Python worker: JSON lines, a range's result followed by its items' hashes as raw bytes
 * (pythonProtocol.ts). The runner must get every message and every hash byte as sent, however the socket cuts the
 * stream, hash bytes that look like newlines included: a lost or shifted byte would commit wrong item hashes.
 */
import { expect, it } from 'vitest'
import { type FromWorker, MessageReader } from '../../src/work/map/pythonProtocol.ts'

/** What a worker writes: a finished count, a result of 3 items whose hashes are full of 0x0a, an empty result, ready. */
function stream(): { bytes: Buffer; hashes: Buffer } {
  const hashes = Buffer.alloc(3 * 32, 0x0a)
  hashes.write('{"type":"ready"}\n', 40)
  const line = (message: object) => Buffer.from(`${JSON.stringify(message)}\n`)
  const result = { type: 'result', start: 0, end: 3, files: [], busyMs: 1, slowestItemMs: 1 }
  const bytes = Buffer.concat([
    line({ type: 'finished', count: 3 }),
    line({ ...result, hashBytes: hashes.length }),
    hashes,
    line({ ...result, start: 3, end: 3, hashBytes: 0 }),
    line({ type: 'ready' }),
  ])
  return { bytes, hashes }
}

function read(chunks: Buffer[]): { message: FromWorker; itemHashes?: Buffer }[] {
  const got: { message: FromWorker; itemHashes?: Buffer }[] = []
  const reader = new MessageReader((message, itemHashes) => got.push({ message, ...(itemHashes && { itemHashes }) }))
  for (const chunk of chunks) reader.push(chunk)
  return got
}

it('a result and its raw item hashes arrive byte for byte, in order, however the stream is cut', () => {
  const { bytes, hashes } = stream()
  const whole = read([bytes])
  expect(whole.map((got) => got.message.type)).toEqual(['finished', 'result', 'result', 'ready'])
  expect(whole[1]!.itemHashes!.equals(hashes)).toBe(true)
  expect(whole[2]!.itemHashes!.length).toBe(0)
  // Cut in two at every offset, and one byte at a time: the same messages and bytes.
  for (let at = 0; at <= bytes.length; at++) expect(read([bytes.subarray(0, at), bytes.subarray(at)])).toEqual(whole)
  expect(read([...bytes].map((byte) => Buffer.from([byte])))).toEqual(whole)
})
