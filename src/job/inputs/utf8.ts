import { isUtf8 } from 'node:buffer'
import { createReadStream } from 'node:fs'

/**
 * An input's bytes are never replaced: a byte sequence that is not UTF-8 is
 * an input error naming where it is, not a U+FFFD in the record.
 */

/** Offset of the first byte of `bytes` that does not start or continue a valid UTF-8 sequence; -1 when all are valid. */
export function firstInvalidUtf8(bytes: Uint8Array): number {
  if (isUtf8(bytes)) return -1
  // Rare path (the input is refused): byte by byte, after RFC 3629.
  let i = 0
  while (i < bytes.length) {
    const b = bytes[i]!
    let need: number
    let min: number
    if (b < 0x80) {
      i++
      continue
    } else if (b >= 0xc2 && b <= 0xdf) [need, min] = [1, 0x80]
    else if (b >= 0xe0 && b <= 0xef) [need, min] = [2, 0x800]
    else if (b >= 0xf0 && b <= 0xf4) [need, min] = [3, 0x10000]
    else return i
    let code = b & (0x3f >> need)
    for (let k = 1; k <= need; k++) {
      const c = bytes[i + k]
      if (c === undefined || (c & 0xc0) !== 0x80) return i
      code = (code << 6) | (c & 0x3f)
    }
    if (code < min || code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff)) return i
    i += need + 1
  }
  return 0 // isUtf8 refused what this reading accepts: refuse it all the same
}

/** Names an invalid byte for a message: `byte 12 of the line is 0xff`. `column` counts from 1. */
export function describeInvalidByte(value: number, column: number): string {
  return `byte ${column} of the line is 0x${value.toString(16).padStart(2, '0')}, which is not UTF-8`
}

/**
 * Checks a stream of chunks for UTF-8 as it goes, without decoding it: a
 * sequence split across two chunks is checked once both are in. `update`
 * returns the file offset of the first invalid byte, or -1.
 */
export class Utf8Stream {
  private tail: Buffer = Buffer.alloc(0)
  private offset = 0

  update(chunk: Buffer): number {
    const data = this.tail.length ? Buffer.concat([this.tail, chunk]) : chunk
    const base = this.offset - this.tail.length
    // Keep back an incomplete sequence at the end (at most 3 bytes) for the next chunk.
    let cut = data.length
    for (let back = 1; back <= 3 && back <= data.length; back++) {
      const b = data[data.length - back]!
      if ((b & 0xc0) === 0x80) continue
      const size = b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : b >= 0xc0 ? 2 : 1
      if (size > back) cut = data.length - back
      break
    }
    this.offset += chunk.length
    const whole = data.subarray(0, cut)
    this.tail = Buffer.from(data.subarray(cut))
    const bad = firstInvalidUtf8(whole)
    return bad < 0 ? -1 : base + bad
  }

  /** At the end of the stream: the offset of a sequence left incomplete, or -1. */
  end(): number {
    return this.tail.length ? this.offset - this.tail.length : -1
  }
}

/** The 1-based line, the byte within it (from 1) and the value of the byte at file offset `offset`: read again from the start, for messages only. */
export async function lineOfOffset(
  path: string,
  offset: number,
): Promise<{ line: number; column: number; value: number }> {
  let line = 1
  let lineStart = 0
  let at = 0
  let value = 0
  for await (const chunk of createReadStream(path, { end: offset }) as AsyncIterable<Buffer>) {
    for (let nl = chunk.indexOf(10); nl >= 0 && at + nl < offset; nl = chunk.indexOf(10, nl + 1)) {
      line++
      lineStart = at + nl + 1
    }
    if (offset - at < chunk.length) value = chunk[offset - at]!
    at += chunk.length
  }
  return { line, column: offset - lineStart + 1, value }
}
