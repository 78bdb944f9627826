import { closeSync, fsyncSync, openSync, readdirSync } from 'node:fs'
import { join } from 'node:path'

/**
 * Flushes a run's files (and its folder) to disk, as they are when a run is resumed after a crash: unflushed, the
 * resumed run's first commit's fsync would also write out the tens of MB a copy left in the page cache (ext4
 * data=ordered), and be timed with it.
 */
export function flushed(dir) {
  for (const entry of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue
    const fd = openSync(join(entry.parentPath ?? entry.path, entry.name), 'r')
    fsyncSync(fd)
    closeSync(fd)
  }
  const fd = openSync(dir, 'r')
  fsyncSync(fd)
  closeSync(fd)
}
