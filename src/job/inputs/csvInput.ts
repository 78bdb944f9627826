import { createHash } from 'node:crypto'
import { createReadStream } from 'node:fs'
import { resolve } from 'node:path'
import { Transform } from 'node:stream'
import { parse } from 'csv-parse'
import { parse as parseSync } from 'csv-parse/sync'
import { UsageError } from '../../errors.ts'
import type { InputScan, InputSource } from './input.ts'
import { readSlice } from './readSlice.ts'

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
export function csvInput<R extends Record<string, string> = Record<string, string>>(path: string | URL): InputSource<R> {
  const given = String(path)
  return {
    kind: 'csv',
    description: { kind: 'csv', path: given },
    async scan(): Promise<InputScan> {
      const absolute = path instanceof URL ? path.pathname : resolve(path)
      const digest = createHash('sha256')
      const ends: number[] = []
      let columns: string[] | undefined
      try {
        const hashing = new Transform({
          transform(chunk: Buffer, _encoding, done) {
            digest.update(chunk)
            done(null, chunk)
          },
        })
        const parser = parse({ info: true, skip_empty_lines: true })
        const source = createReadStream(absolute).on('error', (error) => parser.destroy(error))
        const rows = source.pipe(hashing).pipe(parser)
        for await (const { record, info } of rows as AsyncIterable<{ record: string[]; info: { bytes: number } }>) {
          if (!columns) columns = record
          ends.push(info.bytes)
        }
      } catch (error) {
        throw new UsageError(`cannot read CSV input ${given}: ${(error as Error).message}`, 'LONGHAUL_INPUT_INVALID')
      }
      if (!columns || ends.length < 2) throw new UsageError(`CSV input ${given} has no rows under its header`, 'LONGHAUL_INPUT_INVALID')
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
        if (records.length !== end - start) throw new Error(`${file} changed during the run: rows ${start}–${end - 1} no longer parse as ${end - start} records`)
        return records
      }
    },
  }
}
