import { createHash } from 'node:crypto'
import { statSync } from 'node:fs'
import { relative, resolve } from 'node:path'
import { glob } from 'tinyglobby'
import { UsageError } from '../../errors.ts'
import type { InputScan, InputSource } from './input.ts'

/** One record of a files input. */
export interface FileRecord {
  /** Absolute path. */
  readonly path: string
  /** Path relative to the working directory the run started in. */
  readonly name: string
}

/**
 * Each file matching a glob (or each path of a list) is one record, in sorted
 * order. The fingerprint covers the names and sizes, so adding or changing a
 * file makes a resume refuse.
 */
export function filesInput(pattern: string | readonly string[]): InputSource<FileRecord> {
  return {
    kind: 'files',
    description: { kind: 'files', pattern },
    async scan(): Promise<InputScan> {
      const cwd = process.cwd()
      const paths =
        typeof pattern === 'string'
          ? (await glob(pattern, { cwd, absolute: true, onlyFiles: true })).map((p) => resolve(p))
          : pattern.map((p) => resolve(p))
      paths.sort()
      if (paths.length === 0)
        throw new UsageError(`input ${String(pattern)} matches no files`, 'LONGHAUL_INPUT_INVALID')
      const digest = createHash('sha256')
      for (const path of paths) {
        let size: number
        try {
          size = statSync(path).size
        } catch (error) {
          throw new UsageError(
            `input file ${path} cannot be read: ${(error as Error).message}`,
            'LONGHAUL_INPUT_INVALID',
          )
        }
        digest.update(`${relative(cwd, path)}\0${size}\n`)
      }
      return { count: paths.length, digest: digest.digest('hex'), handle: { paths, cwd } }
    },
    reader(handle) {
      const { paths, cwd } = handle as { paths: string[]; cwd: string }
      return (start, end) => paths.slice(start, end).map((path) => ({ path, name: relative(cwd, path) }))
    },
  }
}
