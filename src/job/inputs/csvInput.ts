import { createHash } from 'node:crypto'
import { createReadStream } from 'node:fs'
import { resolve } from 'node:path'
import { pipeline, Transform } from 'node:stream'
import { parse } from 'csv-parse'
import { parse as parseSync } from 'csv-parse/sync'
import { UsageError } from '../../errors.ts'
import type { InputScan, InputSource } from './input.ts'
import { readSlice } from './readSlice.ts'
import { describeInvalidByte, lineOfOffset, Utf8Stream } from './utf8.ts'

interface CsvHandle {
  readonly path: string
  readonly columns: readonly string[]
  /** Byte offset where each record ends; entry 0 is where the header ends. */
  readonly ends: SharedArrayBuffer
}

/**
 * Each row of a CSV file with a header line is one record, an object keyed by
 * the header's column names (values are strings). Quoted fields may span lines.
 */
export function csvInput<R extends Record<string, string> = Record<string, string>>(
  path: string | URL,
): InputSource<R> {
  const given = String(path)
  return {
    kind: 'csv',
    description: { kind: 'csv', path: given },
    async scan(): Promise<InputScan> {
      const absolute = path instanceof URL ? path.pathname : resolve(path)
      const digest = createHash('sha256')
      const ends: number[] = []
      let columns: string[] | undefined
      // The parser decodes as UTF-8 and would put U+FFFD in place of bytes that are not: they are refused first.
      const utf8 = new Utf8Stream()
      let invalidAt = -1
      try {
        const hashing = new Transform({
          transform(chunk: Buffer, _encoding, done) {
            digest.update(chunk)
            invalidAt = utf8.update(chunk)
            done(invalidAt < 0 ? null : new Error('not UTF-8'), chunk)
          },
          flush(done) {
            invalidAt = utf8.end()
            done(invalidAt < 0 ? null : new Error('not UTF-8'))
          },
        })
        const parser = parse({ info: true, skip_empty_lines: true })
        // pipeline: an error anywhere (reading, a byte that is not UTF-8) destroys the parser with it, ending the loop below.
        const rows = pipeline(createReadStream(absolute), hashing, parser, () => undefined)
        for await (const { record, info } of rows as AsyncIterable<{ record: string[]; info: { bytes: number } }>) {
          if (!columns) columns = record
          ends.push(info.bytes)
        }
      } catch (error) {
        if (invalidAt >= 0) {
          const { line, column, value } = await lineOfOffset(absolute, invalidAt)
          throw new UsageError(
            `${given}:${line}: ${describeInvalidByte(value, column)}. longhaul reads CSV as UTF-8 and never replaces a byte: convert the file (e.g. iconv -f latin1 -t utf-8) or fix the line`,
            'LONGHAUL_INPUT_INVALID',
          )
        }
        throw new UsageError(`cannot read CSV input ${given}: ${(error as Error).message}`, 'LONGHAUL_INPUT_INVALID')
      }
      if (!columns || ends.length < 2)
        throw new UsageError(`CSV input ${given} has no rows under its header`, 'LONGHAUL_INPUT_INVALID')
      const shared = new SharedArrayBuffer(ends.length * 8)
      new Float64Array(shared).set(ends)
      const handle: CsvHandle = { path: absolute, columns, ends: shared }
      return { count: ends.length - 1, digest: digest.digest('hex'), handle }
    },
    reader(handle) {
      const { path: file, columns, ends } = handle as CsvHandle
      const at = new Float64Array(ends)
      return (start, end) => {
        const bytes = readSlice(file, at[start]!, at[end]!)
        const records = parseSync(bytes, { columns: [...columns], skip_empty_lines: true }) as R[]
        if (records.length !== end - start)
          throw new Error(
            `${file} changed during the run: rows ${start}–${end - 1} no longer parse as ${end - start} records`,
          )
        return records
      }
    },
  }
}
