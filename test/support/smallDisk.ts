import { execFileSync } from 'node:child_process'
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll } from 'vitest'
import { tempDir } from './cli.ts'

/**
 * A real small disk: a tmpfs of `size` (mount's syntax: 600k, 2m) mounted on a fresh folder for this test file and
 * unmounted after it. Call it at the file's top level. `mountPoint` is undefined where it cannot be mounted (not
 * root, or no mount in this sandbox): the file's tests then say so instead of passing silently.
 */
export function smallDisk(size: string): string | undefined {
  const mountPoint = join(tempDir(), 'small-disk')
  mkdirSync(mountPoint)
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', mountPoint], { stdio: 'ignore' })
  } catch {
    return undefined
  }
  // Registered after tempDir's removal of the folder, so it runs first (hooks after all run last-registered first).
  afterAll(() => execFileSync('umount', [mountPoint]))
  return mountPoint
}
