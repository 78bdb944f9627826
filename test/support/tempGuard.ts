/**
 * vitest's global setup: the suite leaves the OS temp folder as it found it.
 *
 * Every test file, and every process it starts, gets TMPDIR set to one folder made here for this run of the suite, so
 * what the suite makes in "the temp folder" is told apart from what other programs (or another run of the suite) make
 * in /tmp at the same time. At the end, whatever is left in it, other than caches (tsx's, the PostgreSQL template), fails the
 * suite with its names, and the folder is removed. The folder is readable by others: the test PostgreSQL server runs
 * as the `postgres` user inside it.
 */
import { chmodSync, mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

/**
 * Entries that are caches, not leftovers: tools' caches, keyed by user (tsx-0), recreated on demand; and the template
 * PostgreSQL cluster the test servers copy (test/support/postgres.ts), made once per run of the suite.
 */
const CACHES = /^(tsx-\d+|longhaul-pg-template)$/

export function setup(): () => void {
  const outer = tmpdir()
  const folder = mkdtempSync(join(outer, 'longhaul-suite-'))
  chmodSync(folder, 0o755)
  const saved = process.env.TMPDIR
  process.env.TMPDIR = folder
  return () => {
    if (saved === undefined) delete process.env.TMPDIR
    else process.env.TMPDIR = saved
    const left = leftIn(folder)
    rmSync(folder, { recursive: true, force: true })
    if (left.length > 0) {
      // vitest reports an error thrown here but does not fail the run for it: the exit code says so.
      process.exitCode = 1
      throw new Error(
        `the test suite left ${left.length} entr${left.length === 1 ? 'y' : 'ies'} in the temp folder: ${left.join(', ')}. ` +
          'A test makes its folders with tempDir() (test/support/cli.ts), which removes them, and stops what it starts.',
      )
    }
  }
}

/** What is left in `folder`, less tools' caches. */
export function leftIn(folder: string): string[] {
  return readdirSync(folder)
    .filter((name) => !CACHES.test(name))
    .sort()
}
