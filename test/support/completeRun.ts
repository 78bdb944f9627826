import { cpSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { beforeAll, expect } from 'vitest'
import { fixture, runCliHere, tempDir } from './cli.ts'

/** The job of the damaged-run tests: test/fixtures/jobs/squares.ts. */
export const SQUARES = fixture('squares.ts')

/** The journal of the run in `dir`. */
export const journal = (dir: string): string => join(dir, '.longhaul', 'journal.sqlite')

/** The committed shards in `dir`/data (their final names), sorted. */
export const shards = (dir: string): string[] =>
  readdirSync(join(dir, 'data'))
    .filter((name) => /^\d{12}-\d{12}\.jsonl$/.test(name))
    .sort()

/**
 * A complete run of squares.ts of `total` items with a shard every 0.1 s, made once for the test file (in a
 * beforeAll: `longhaul run` in this process), and copies of it for each test to damage.
 */
export function completeRun(
  prefix: string,
  total: number,
): {
  /** The folder the copies (and anything else of the file's) go in. */
  readonly root: string
  /** The complete run itself: never damaged. */
  readonly complete: string
  /** Its digest, once made. */
  digest(): string
  /** A copy of the complete run in a folder of its own, damaged by `damage`. */
  damaged(damage: (dir: string) => void): string
} {
  const root = tempDir(prefix)
  const complete = join(root, 'complete')
  let digest = ''
  let serial = 0
  beforeAll(async () => {
    const made = await runCliHere([
      'run',
      SQUARES,
      '--out',
      complete,
      '--workers',
      '1',
      '--total',
      String(total),
      '--checkpoint-every',
      '0.1',
      '--json',
    ])
    expect(made.code, made.stderr).toBe(0)
    digest = JSON.parse(made.stdout).digest as string
  }, 60_000)
  return {
    root,
    complete,
    digest: () => digest,
    damaged(damage) {
      const dir = join(root, `case-${++serial}`)
      cpSync(complete, dir, { recursive: true })
      damage(dir)
      return dir
    },
  }
}
