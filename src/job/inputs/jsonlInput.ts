import { createHash } from 'node:crypto'
import { createReadStream } from 'node:fs'
import { resolve } from 'node:path'
import { UsageError } from '../../errors.ts'
import type { InputScan, InputSource } from './input.ts'
import { readSlice } from './readSlice.ts'
import { describeInvalidByte, firstInvalidUtf8 } from './utf8.ts'

/** Space, tab, CR, LF: the only whitespace JSON allows around a value. */
const JSON_SPACE = new Set([0x20, 0x09, 0x0d, 0x0a])
/** Read in 1 MiB chunks: fewer calls than the 64 KiB default, the same memory order as one long line. */
const CHUNK_BYTES = 1024 * 1024

interface JsonlHandle {
  readonly path: string
  /** start, end byte offsets of each record, pairwise. */
  readonly offsets: SharedArrayBuffer
}

/** Each non-blank line of a JSON Lines file is one record. Relative paths are resolved against the working directory. */
export function jsonlInput<R = unknown>(path: string | URL): InputSource<R> {
  const given = String(path)
  return {
    kind: 'jsonl',
    description: { kind: 'jsonl', path: given },
    async scan(): Promise<InputScan> {
      const absolute = path instanceof URL ? path.pathname : resolve(path)
      const offsets: number[] = []
      const digest = createHash('sha256')
      let lineStart = 0
      let lineNumber = 0
      const takeLine = (line: Buffer, start: number): void => {
        lineNumber++
        // Exactly the bytes the workers will parse: JSON whitespace trimmed, a byte-order mark skipped.
        let from = start === 0 && line[0] === 0xef && line[1] === 0xbb && line[2] === 0xbf ? 3 : 0
        let to = line.length
        while (from < to && JSON_SPACE.has(line[from]!)) from++
        while (to > from && JSON_SPACE.has(line[to - 1]!)) to--
        if (from === to) return
        const bytes = line.subarray(from, to)
        const bad = firstInvalidUtf8(bytes)
        if (bad >= 0) {
          throw new UsageError(
            `${given}:${lineNumber}: ${describeInvalidByte(line[from + bad]!, from + bad + 1)}. longhaul reads JSON Lines as UTF-8 and never replaces a byte: convert the file (e.g. iconv -f latin1 -t utf-8) or fix the line`,
            'LONGHAUL_INPUT_INVALID',
          )
        }
        try {
          JSON.parse(bytes.toString('utf8'))
        } catch (error) {
          throw new UsageError(
            `${given}:${lineNumber}: not JSON (${(error as Error).message}); fix the line or remove it`,
            'LONGHAUL_INPUT_INVALID',
          )
        }
        offsets.push(start + from, start + to)
      }
      // The bytes of a line not yet ended, as the chunks they came in: joined once, when the line ends, so a
      // line of any length costs time linear in its bytes (joining them chunk by chunk is quadratic).
      let pending: Buffer[] = []
      try {
        for await (const chunk of createReadStream(absolute, { highWaterMark: CHUNK_BYTES }) as AsyncIterable<Buffer>) {
          digest.update(chunk)
          let from = 0
          for (let nl = chunk.indexOf(10); nl >= 0; nl = chunk.indexOf(10, from)) {
            const piece = chunk.subarray(from, nl)
            const line = pending.length ? Buffer.concat([...pending, piece]) : piece
            pending = []
            takeLine(line, lineStart)
            lineStart += line.length + 1
            from = nl + 1
          }
          if (from < chunk.length) pending.push(chunk.subarray(from))
        }
      } catch (error) {
        if (error instanceof UsageError) throw error
        throw new UsageError(`cannot read input ${given}: ${(error as Error).message}`, 'LONGHAUL_INPUT_INVALID')
      }
      if (pending.length) takeLine(Buffer.concat(pending), lineStart)
      if (offsets.length === 0) throw new UsageError(`input ${given} has no records`, 'LONGHAUL_INPUT_INVALID')
      const shared = new SharedArrayBuffer(offsets.length * 8)
      new Float64Array(shared).set(offsets)
      const handle: JsonlHandle = { path: absolute, offsets: shared }
      return { count: offsets.length / 2, digest: digest.digest('hex'), handle }
    },
    reader(handle) {
      const { path: file, offsets } = handle as JsonlHandle
      const at = new Float64Array(offsets)
      return (start, end) => {
        const base = at[start * 2]!
        const bytes = readSlice(file, base, at[end * 2 - 1]!)
        const records: R[] = []
        for (let i = start; i < end; i++) {
          records.push(JSON.parse(bytes.subarray(at[i * 2]! - base, at[i * 2 + 1]! - base).toString('utf8')) as R)
        }
        return records
      }
    },
  }
}
