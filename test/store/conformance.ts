/**
 * The one conformance suite every Store runs (DESIGN §4). A store passes
 * when it keeps the journal's promises: claims never overlap, commits are
 * fenced, totals only grow, the owner lease is exclusive until it expires.
 */
import { describe, expect, it } from 'vitest'
import { LeaseLostError } from '../../src/errors.ts'
import type { Claim, Store } from '../../src/journal/store.ts'

const TTL = 30_000
const hashes = (n: number): Buffer => Buffer.alloc(n * 32, 7)
const file = (start: number, end: number) => [{ name: `${start}-${end}.jsonl`, bytes: end - start, sha256: 'x' }]

async function commit(store: Store, claim: Claim, end = claim.end, now = 1): Promise<void> {
  await store.commitRange(
    claim,
    { start: claim.start, end, files: file(claim.start, end), itemHashes: hashes(end - claim.start) },
    now,
  )
}

export function storeConformance(name: string, makeStore: () => Promise<Store>): void {
  const withRun = async (total = 100): Promise<Store> => {
    const store = await makeStore()
    await store.createRun({ runId: 'r', job: 'j', fingerprint: 'f', identity: '{}', total, kind: 'map', createdAt: 0 })
    return store
  }

  describe(`store conformance: ${name}`, () => {
    it('no-duplicates: claims never overlap and cover 0 … total-1 exactly', async () => {
      const store = await withRun(100)
      const seen = new Set<number>()
      for (let claim = await store.claimRange('w', 7, TTL, 0); claim; claim = await store.claimRange('w', 7, TTL, 0)) {
        for (let i = claim.start; i < claim.end; i++) {
          expect(seen.has(i)).toBe(false)
          seen.add(i)
        }
      }
      expect(seen.size).toBe(100)
      await store.close()
    })

    it('atomic-commit: a partial commit keeps the rest of the claim, and released items are claimed again', async () => {
      const store = await withRun(10)
      const claim = (await store.claimRange('w', 10, TTL, 0))!
      await commit(store, claim, 4)
      expect(await store.committedItems()).toBe(4)
      await store.releaseClaim({ ...claim, start: 4 })
      const again = (await store.claimRange('w', 100, TTL, 0))!
      expect([again.start, again.end]).toEqual([4, 10])
      await commit(store, again)
      expect(await store.committedItems()).toBe(10)
      expect(await store.claimRange('w', 100, TTL, 0)).toBeUndefined()
      await store.close()
    })

    it('one-owner: a commit with a token that lost its claim is refused (fencing)', async () => {
      const store = await withRun(10)
      const old = (await store.claimRange('a', 10, TTL, 0))!
      // The claim expires; another worker takes the same items.
      const taken = (await store.claimRange('b', 10, TTL, TTL + 1))!
      expect(taken.start).toBe(old.start)
      await expect(commit(store, old)).rejects.toBeInstanceOf(LeaseLostError)
      await commit(store, taken)
      expect(await store.committedItems()).toBe(10)
      await store.close()
    })

    it('one-owner: a live owner lease refuses a second owner; an expired one is taken over', async () => {
      const store = await withRun()
      const first = await store.acquireOwner({ pid: 1, host: 'h' }, TTL, 0)
      expect('lease' in first).toBe(true)
      const refused = await store.acquireOwner({ pid: 2, host: 'h' }, TTL, TTL - 1)
      expect('heldBy' in refused && refused.heldBy.pid).toBe(1)
      const taken = await store.acquireOwner({ pid: 2, host: 'h' }, TTL, TTL + 1)
      expect('lease' in taken && taken.lease.pid).toBe(2)
      // The first owner's heartbeat now fails: it must stop.
      await expect(
        store.heartbeat('lease' in first ? first.lease.token : -1, 'a', TTL, TTL + 2),
      ).rejects.toBeInstanceOf(LeaseLostError)
      await store.close()
    })

    it('one-owner: an owner that was taken over cannot commit, even a claim nobody has taken again', async () => {
      const store = await withRun(20)
      const first = await store.acquireOwner({ pid: 1, host: 'h' }, TTL, 0)
      const oldToken = 'lease' in first ? first.lease.token : -1
      const claim = (await store.claimRange('local', 10, TTL, 0))!
      // The owner pauses past its lease; a new owner takes over and releases the old claims.
      await store.acquireOwner({ pid: 2, host: 'h' }, TTL, TTL + 1)
      await store.releaseClaimsOf('local')
      await expect(commit(store, claim)).rejects.toBeInstanceOf(LeaseLostError)
      await expect(
        store.commitRange(claim, { start: 0, end: 10, files: file(0, 10), itemHashes: hashes(10) }, TTL + 2, oldToken),
      ).rejects.toBeInstanceOf(LeaseLostError)
      expect(await store.committedItems()).toBe(0)
      await store.close()
    })

    it("one-owner: the heartbeat keeps a worker's claims from expiring", async () => {
      const store = await withRun(10)
      const owner = await store.acquireOwner({ pid: 1, host: 'h' }, TTL, 0)
      const claim = (await store.claimRange('w', 10, TTL, 0))!
      await store.heartbeat('lease' in owner ? owner.lease.token : -1, 'w', TTL, TTL - 1)
      expect(await store.claimRange('x', 10, TTL, TTL + 1)).toBeUndefined()
      await commit(store, claim)
      await store.close()
    })

    it('one-owner: a worker without the owner lease keeps its claims by renewing them, and only its own', async () => {
      const store = await withRun(20)
      const mine = (await store.claimRange('w', 10, TTL, 0))!
      const theirs = (await store.claimRange('v', 10, TTL, 0))!
      await store.renewClaims('w', TTL, TTL - 1)
      // Past the first TTL: w's renewed claim is still held, v's expired one is retaken.
      const retaken = (await store.claimRange('x', 100, TTL, TTL + 1))!
      expect([retaken.start, retaken.end]).toEqual([theirs.start, theirs.end])
      expect(await store.claimRange('y', 100, TTL, TTL + 2)).toBeUndefined()
      // Renewing under the old holder's name does not take the retaken claim back: its commit stays fenced.
      await store.renewClaims('v', TTL, TTL + 3)
      await expect(commit(store, theirs)).rejects.toBeInstanceOf(LeaseLostError)
      await commit(store, mine)
      await commit(store, retaken)
      expect(await store.committedItems()).toBe(20)
      await store.close()
    })

    it('live-claims: claimHolders names each worker whose claim has not expired, once; an expired, released or fully committed claim names nobody', async () => {
      const store = await withRun(40)
      expect(await store.claimHolders(0)).toEqual([])
      const w = (await store.claimRange('w', 5, TTL, 0))!
      await store.claimRange('w', 5, TTL, 0)
      const v = (await store.claimRange('v', 5, TTL, 0))!
      const u = (await store.claimRange('u', 5, TTL, 0))!
      expect(await store.claimHolders(1)).toEqual(['u', 'v', 'w'])
      await store.releaseClaim(v)
      await commit(store, u)
      expect(await store.claimHolders(1)).toEqual(['w'])
      // w's claims expire unless renewed; once renewed they are held again past the first TTL.
      expect(await store.claimHolders(TTL)).toEqual([])
      await store.renewClaims('w', TTL, TTL - 1)
      expect(await store.claimHolders(TTL)).toEqual(['w'])
      // w gives one claim back and x takes it: both hold one now.
      await store.releaseClaim(w)
      await store.claimRange('x', 5, TTL, TTL)
      expect(await store.claimHolders(TTL + 1)).toEqual(['w', 'x'])
      await store.close()
    })

    it('same-job-or-refuse: the total grows, never shrinks, and new items follow the old ones', async () => {
      const store = await withRun(5)
      await commit(store, (await store.claimRange('w', 5, TTL, 0))!)
      await expect(store.extendTotal(4, 1)).rejects.toThrow(/only grow/)
      await store.extendTotal(8, 1)
      const next = (await store.claimRange('w', 100, TTL, 0))!
      expect([next.start, next.end]).toEqual([5, 8])
      await store.close()
    })

    it('atomic-commit: an uncommitted (corrupt) range is forgotten and claimed again', async () => {
      const store = await withRun(6)
      await commit(store, (await store.claimRange('w', 3, TTL, 0))!)
      await commit(store, (await store.claimRange('w', 3, TTL, 0))!)
      await store.uncommitRange(0)
      expect(await store.committedItems()).toBe(3)
      const again = (await store.claimRange('w', 10, TTL, 0))!
      expect([again.start, again.end]).toEqual([0, 3])
      await store.close()
    })

    it("usage-with-commit: what a range's items used is counted with its commit, summed by counter, and forgotten with it", async () => {
      const store = await withRun(9)
      expect(await store.usageTotals()).toEqual({ usage: {}, failedUsage: {} })
      const range = (claim: Claim) => ({ start: claim.start, end: claim.end, files: file(claim.start, claim.end) })
      const a = (await store.claimRange('w', 3, TTL, 0))!
      await store.commitRange(
        a,
        { ...range(a), itemHashes: hashes(3), usage: { tokens: 300, usd: 0.25 }, failedUsage: { usd: 0.5 } },
        1,
      )
      const b = (await store.claimRange('w', 3, TTL, 0))!
      await store.commitRange(b, { ...range(b), itemHashes: hashes(3), usage: { tokens: 12, usd: 0.125 } }, 1)
      // A range whose items reported nothing, and a commit refused by the fence: neither counts.
      await commit(store, (await store.claimRange('w', 3, TTL, 0))!)
      await expect(
        store.commitRange(
          { ...a, token: a.token + 1000 },
          { ...range(a), itemHashes: hashes(3), usage: { tokens: 1 } },
          2,
        ),
      ).rejects.toBeInstanceOf(LeaseLostError)
      expect(await store.usageTotals()).toEqual({ usage: { tokens: 312, usd: 0.375 }, failedUsage: { usd: 0.5 } })
      await store.uncommitRange(a.start)
      expect(await store.usageTotals()).toEqual({ usage: { tokens: 12, usd: 0.125 }, failedUsage: {} })
      await store.close()
    })

    it('ranges come back in index order with their item hashes', async () => {
      const store = await withRun(9)
      const a = (await store.claimRange('w', 3, TTL, 0))!
      const b = (await store.claimRange('w', 3, TTL, 0))!
      const c = (await store.claimRange('w', 3, TTL, 0))!
      await commit(store, c)
      await commit(store, a)
      await commit(store, b)
      const starts: number[] = []
      for await (const range of store.rangesWithHashes()) {
        starts.push(range.start)
        expect(range.itemHashes.length).toBe((range.end - range.start) * 32)
      }
      expect(starts).toEqual([0, 3, 6])
      await store.close()
    })

    it('events are kept in order, and every commit logs a checkpoint naming the worker whose claim it was', async () => {
      const store = await withRun(10)
      await store.addEvent('started', { pid: 1 }, 5)
      await commit(store, (await store.claimRange('w', 10, TTL, 0))!, 10, 6)
      await store.addEvent('complete', {}, 7)
      const events = await store.events()
      expect(events.map((e) => e.type)).toEqual(['started', 'checkpoint', 'complete'])
      expect(events[1]).toEqual({ at: 6, type: 'checkpoint', detail: { start: 0, end: 10, worker: 'w' } })
      await store.close()
    })

    it("run-state-columns: the run's kind, where its shards go and a loop's digest are the run's own, set once and read back", async () => {
      const store = await makeStore()
      await store.createRun({
        runId: 'r',
        job: 'j',
        fingerprint: 'f',
        identity: '{}',
        total: 3,
        kind: 'loop',
        createdAt: 0,
      })
      expect(await store.getRun()).toMatchObject({ kind: 'loop', shardsAt: null, finalDigest: null, state: 'running' })
      await store.setShardsAt('s3://bucket/prefix', 1)
      // Again (a resume): nothing changes, nothing more is logged.
      await store.setShardsAt('s3://bucket/prefix', 2)
      expect(await store.getRun()).toMatchObject({ shardsAt: 's3://bucket/prefix', updatedAt: 1 })
      expect((await store.events()).filter((e) => e.type === 'shards')).toEqual([
        { at: 1, type: 'shards', detail: { at: 's3://bucket/prefix' } },
      ])
      await store.setState('interrupted', 3)
      expect((await store.getRun())?.finalDigest).toBeNull()
      await store.setState('complete', 4, 'ab'.repeat(32))
      expect(await store.getRun()).toMatchObject({ state: 'complete', finalDigest: 'ab'.repeat(32), updatedAt: 4 })
      await store.close()
    })

    it('run-state-columns: a map run and a supervised program are recorded as their kind', async () => {
      for (const kind of ['map', 'exec'] as const) {
        const store = await makeStore()
        await store.createRun({ runId: kind, job: 'j', fingerprint: 'f', identity: '{}', total: 1, kind, createdAt: 0 })
        expect(await store.getRun()).toMatchObject({ kind, shardsAt: null, finalDigest: null })
        await store.close()
      }
    })
  })
}
