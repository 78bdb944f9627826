import { closeSync, constants, fstatSync, openSync, readFileSync, realpathSync } from 'node:fs'
import { isAbsolute, relative, resolve, sep } from 'node:path'
import { FileRefusedError } from '../errors.ts'

/**
 * The bytes of `path`, read only when it is a regular file reached without a
 * symbolic link at its last step. A FIFO, a device or a socket is refused
 * without waiting on it (opened non-blocking, never read), so one odd file in a
 * run folder cannot freeze the reader. Longhaul writes its files by renaming a
 * temporary file into place: none of them is ever a link.
 */
export function readRegularFile(path: string): Buffer {
  let fd: number
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ELOOP') throw new FileRefusedError(path, 'a symbolic link')
    throw error
  }
  try {
    const stat = fstatSync(fd)
    if (!stat.isFile())
      throw new FileRefusedError(
        path,
        stat.isFIFO() ? 'a FIFO' : stat.isDirectory() ? 'a folder' : 'not a regular file',
      )
    return readFileSync(fd)
  } finally {
    closeSync(fd)
  }
}

/**
 * Throws unless `path` (which need not exist) resolves, links followed, to a
 * place inside `root`: what a server reading under a root checks before it
 * opens a file there, so a link to /etc or to another user's folder leads
 * nowhere.
 */
export function assertInside(root: string, path: string): void {
  let real: string
  try {
    real = realpathSync(path)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return
    throw error
  }
  const fromRoot = relative(realpathSync(resolve(root)), real)
  if (fromRoot !== '..' && !fromRoot.startsWith(`..${sep}`) && !isAbsolute(fromRoot)) return
  throw new FileRefusedError(path, `a link to ${real}, outside ${root}`)
}
