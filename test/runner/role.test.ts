/**
 * The role a process plays in a map run, chosen from --store and --join, and
 * what it answers when the process finds nothing left to claim: a run of its
 * own is done then; a shared run only once its journal's total is committed.
 */
import { hostname } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { UsageError } from '../../src/errors.ts'
import { SqliteStore } from '../../src/journal/sqlite/sqliteStore.ts'
import { claimNameOf } from '../../src/journal/store.ts'
import { OWNER } from '../../src/run/startSession.ts'
import { roleOf } from '../../src/work/map/role.ts'
import { tempDir } from '../support/cli.ts'

const target = { jobPath: 'job.ts', outDir: 'out' }
const URL = 'postgres://db.example/longhaul'

describe('role', () => {
  it('a local run, the owner of a shared run and a worker joining one are told apart by --store and --join; a worker or a bucket without --store is refused', () => {
    expect(roleOf(target)).toMatchObject({ kind: 'local', me: OWNER })
    const me = claimNameOf({ host: hostname(), pid: process.pid })
    expect(roleOf({ ...target, store: URL })).toMatchObject({ kind: 'owner', me })
    expect(roleOf({ ...target, store: URL, join: 'run-1' })).toMatchObject({ kind: 'worker', me })
    expect(() => roleOf({ ...target, join: 'run-1' })).toThrow(UsageError)
    expect(() => roleOf({ ...target, shards: 's3://bucket/prefix' })).toThrow(/give --store/)
  })

  it('shared-run-done: with nothing to claim, a run of its own is done; a shared run only once every item of the total as the journal has it (its owner may grow it) is committed', async () => {
    const store = SqliteStore.open(join(tempDir(), 'journal.sqlite'))
    try {
      await store.createRun({
        runId: 'r',
        job: 'j',
        fingerprint: 'f',
        identity: '{}',
        total: 4,
        kind: 'map',
        createdAt: 1,
      })
      // This process last read a total of 2: the journal's 4 is what counts.
      expect(await roleOf(target).idle(store, 2)).toEqual({ done: true, total: 2 })
      const shared = roleOf({ ...target, store: URL, join: 'r' })
      expect(await shared.idle(store, 2)).toEqual({ done: false, total: 4 })
      const commit = async (count: number): Promise<void> => {
        const claim = (await store.claimRange('p', count, 60_000, 2))!
        const range = { start: claim.start, end: claim.end, files: [], itemHashes: Buffer.alloc(count * 32) }
        await store.commitRange(claim, range, 3)
      }
      // The 2 items this process knew of are committed; the 2 the owner added are not.
      await commit(2)
      expect(await shared.idle(store, 2)).toEqual({ done: false, total: 4 })
      await commit(2)
      expect(await shared.idle(store, 2)).toEqual({ done: true, total: 4 })
    } finally {
      await store.close()
    }
  })
})
