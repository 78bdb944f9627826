import { closeSync, openSync, readSync } from 'node:fs'

/** Reads bytes [start, end) of a file. */
export function readSlice(path: string, start: number, end: number): Buffer {
  const buffer = Buffer.allocUnsafe(end - start)
  const fd = openSync(path, 'r')
  try {
    let done = 0
    while (done < buffer.length) {
      const n = readSync(fd, buffer, done, buffer.length - done, start + done)
      if (n === 0)
        throw new Error(`${path} ended at byte ${start + done}, expected ${end}: was it changed during the run?`)
      done += n
    }
  } finally {
    closeSync(fd)
  }
  return buffer
}
