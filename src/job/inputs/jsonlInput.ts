import { createHash } from 'node:crypto'
import { createReadStream } from 'node:fs'
import { resolve } from 'node:path'
import { UsageError } from '../../errors.ts'
import type { InputScan, InputSource } from './input.ts'
import { readSlice } from './readSlice.ts'

/** Space, tab, CR, LF: the only whitespace JSON allows around a value. */
const JSON_SPACE = new Set([0x20, 0x09, 0x0d, 0x0a])

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
      let carry: Buffer = Buffer.alloc(0)
      const takeLine = (line: Buffer, start: number): void => {
        lineNumber++
        // Exactly the bytes the workers will parse: JSON whitespace trimmed, a byte-order mark skipped.
        let from = start === 0 && line[0] === 0xef && line[1] === 0xbb && line[2] === 0xbf ? 3 : 0
        let to = line.length
        while (from < to && JSON_SPACE.has(line[from]!)) from++
        while (to > from && JSON_SPACE.has(line[to - 1]!)) to--
        if (from === to) return
        try {
          JSON.parse(line.toString('utf8', from, to))
        } catch (error) {
          throw new UsageError(`${given}:${lineNumber}: not JSON (${(error as Error).message}); fix the line or remove it`, 'LONGHAUL_INPUT_INVALID')
        }
        offsets.push(start + from, start + to)
      }
      try {
        for await (const chunk of createReadStream(absolute) as AsyncIterable<Buffer>) {
          digest.update(chunk)
          const data = carry.length ? Buffer.concat([carry, chunk]) : chunk
          let from = 0
          for (let nl = data.indexOf(10); nl >= 0; nl = data.indexOf(10, from)) {
            takeLine(data.subarray(from, nl), lineStart)
            lineStart += nl - from + 1
            from = nl + 1
          }
          carry = Buffer.from(data.subarray(from))
        }
      } catch (error) {
        if (error instanceof UsageError) throw error
        throw new UsageError(`cannot read input ${given}: ${(error as Error).message}`, 'LONGHAUL_INPUT_INVALID')
      }
      if (carry.length) takeLine(carry, lineStart)
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
