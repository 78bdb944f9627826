/**
 * hash-slot reuse, in a run: each range's item hashes are written by its worker thread into a slot the coordinator
 * lends (hashSlots.ts), committed from there, and the slot is reused only once the range's commit has settled and the
 * digest taken as ranges commit (prefixDigest.ts) has hashed them. Short ranges of uneven items, on two threads,
 * commit out of index order, so ranges wait for the digest while later ones are made: a slot reused too early would
 * put another range's hashes in the journal (verify finds them wrong) or in the digest (it differs from the journal's).
 */
import { join } from 'node:path'
import { expect, it } from 'vitest'
import { runMapJob, verifyRun } from '../../src/index.ts'
import { SqliteStore } from '../../src/journal/sqlite/sqliteStore.ts'
import { journalDigest } from '../../src/shards/digest.ts'
import { fixture, tempDir } from '../support/cli.ts'

it('hash-slot reuse: with ranges committing out of order, the journal holds each range its own hashes and the run digest is the journal digest', async () => {
  const outDir = join(tempDir(), 'run')
  let commits = 0
  const summary = await runMapJob({
    jobPath: fixture('uneven.ts'),
    outDir,
    workers: 2,
    checkpointEvery: 25,
    observer: { committed: () => void commits++ },
  })
  expect(summary.state).toBe('complete')
  // Many short ranges, not a few long ones: the slots are reused many times over.
  expect(commits).toBeGreaterThan(30)
  const store = SqliteStore.open(join(outDir, '.longhaul/journal.sqlite'), { readonly: true })
  let fromJournal: string
  try {
    fromJournal = await journalDigest(store)
  } finally {
    await store.close()
  }
  expect(summary.digest).toBe(fromJournal)
  const report = await verifyRun(outDir)
  expect(report).toMatchObject({ complete: true, items: 1500, corrupt: 0, digest: fromJournal })
})
