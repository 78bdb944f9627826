import { createHash, randomBytes } from 'node:crypto'
import { closeSync, fsyncSync, openSync, renameSync, rmSync, writevSync } from 'node:fs'
import { basename, join } from 'node:path'
import { NotDurableError } from '../errors.ts'

export interface WrittenFile {
  readonly name: string
  readonly bytes: number
  readonly sha256: string
}

/** Temp files start with this; anything so named in a data folder is debris from a crash. */
export const TEMP_PREFIX = '.tmp-'

/**
 * Writes `chunks` to `dir/name` so that a reader (or a crash) sees the old
 * file or the whole new one, never part of it: temp file in the same folder,
 * write all, fsync the file, rename. The caller fsyncs the folder once after
 * its last rename (`fsyncDir`), which makes the renames durable. Any failure
 * throws NotDurableError.
 */
export function writeFileAtomic(dir: string, name: string, chunks: readonly Buffer[]): WrittenFile {
  const temp = join(dir, `${TEMP_PREFIX}${randomBytes(6).toString('hex')}-${name}`)
  let written: WrittenFile
  try {
    written = writeFileDurably(temp, chunks)
    renameSync(temp, join(dir, name))
  } catch (error) {
    rmSync(temp, { force: true })
    throw new NotDurableError(join(dir, name), (error as Error).cause ?? error)
  }
  return { ...written, name }
}

/** True for exactly the temp names writeFileAtomic gives a file `name` while it writes it. */
export function isTempNameOf(temp: string, name: string): boolean {
  return (
    temp.length === TEMP_PREFIX.length + 13 + name.length &&
    /^\.tmp-[0-9a-f]{12}-/.test(temp) &&
    temp.endsWith(`-${name}`)
  )
}

/**
 * Writes `chunks` to a new file at `path` and fsyncs it (not its folder);
 * returns its name, size and sha256. A failure removes what was written and
 * throws NotDurableError. The file is whole only once this returns, so its
 * name must be one nobody reads as finished (writeFileAtomic renames it).
 */
export function writeFileDurably(path: string, chunks: readonly Buffer[]): WrittenFile {
  const hash = createHash('sha256')
  let bytes = 0
  let fd: number | undefined
  try {
    fd = openSync(path, 'w')
    for (let i = 0; i < chunks.length; i += 256) {
      const batch = chunks.slice(i, i + 256)
      let expected = 0
      for (const chunk of batch) {
        hash.update(chunk)
        expected += chunk.length
      }
      let written = writevSync(fd, batch as Buffer[])
      // writev may write less than asked; finish the batch chunk by chunk.
      if (written < expected) written += finishPartialWrite(fd, batch, written)
      bytes += written
    }
    fsyncSync(fd)
    closeSync(fd)
    fd = undefined
  } catch (error) {
    if (fd !== undefined) closeSync(fd)
    rmSync(path, { force: true })
    throw new NotDurableError(path, error)
  }
  return { name: basename(path), bytes, sha256: hash.digest('hex') }
}

function finishPartialWrite(fd: number, batch: readonly Buffer[], done: number): number {
  const rest = Buffer.concat(batch as Buffer[]).subarray(done)
  let extra = 0
  while (extra < rest.length) extra += writevSync(fd, [rest.subarray(extra)])
  return extra
}

/** fsyncs a folder so that the renames and deletions in it survive a crash. */
export function fsyncDir(dir: string): void {
  let fd: number | undefined
  try {
    fd = openSync(dir, 'r')
    fsyncSync(fd)
  } catch (error) {
    throw new NotDurableError(`the folder ${dir}`, error)
  } finally {
    if (fd !== undefined) closeSync(fd)
  }
}
