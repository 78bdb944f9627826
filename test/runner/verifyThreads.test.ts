/** verify hashes a large run's items in worker threads: it must find there exactly what it finds in one thread. */
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { expect, it } from 'vitest'
import { runMapJob, verifyRun } from '../../src/index.ts'
import { fixture, tempDir } from '../support/cli.ts'

const root = tempDir()

it('verify in worker threads: the same digest as the run, and an item hash the bytes do not give is found corrupt', async () => {
  const outDir = join(root, 'threads')
  const run = await runMapJob({ jobPath: fixture('squares.ts'), outDir, total: 300, workers: 2 })
  expect(run.state).toBe('complete')
  const inThreads = { threadsAboveItems: 0 }
  expect(await verifyRun(outDir, inThreads)).toMatchObject({ complete: true, items: 300, digest: run.digest })

  // The journal's hash of one item (in the second range) no longer matches that item's line.
  const db = new Database(join(outDir, '.longhaul', 'journal.sqlite'))
  const [, second] = db
    .prepare<[], { start: number; end: number; item_hashes: Buffer }>('SELECT * FROM ranges ORDER BY start')
    .all()
  const hashes = Buffer.from(second!.item_hashes)
  hashes[5] = hashes[5]! ^ 0xff
  db.prepare('UPDATE ranges SET item_hashes = ? WHERE start = ?').run(hashes, second!.start)
  db.close()

  for (const how of [inThreads, { threadsAboveItems: Number.POSITIVE_INFINITY }]) {
    const report = await verifyRun(outDir, how)
    expect(report).toMatchObject({ complete: false, digest: null, corrupt: second!.end - second!.start, missing: 0 })
    expect(report.problems).toEqual([`items ${second!.start}–${second!.end - 1}: item bytes differ from the journal`])
  }
})
