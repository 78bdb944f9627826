/**
 * Model-based test of the journal (fast-check commands), run against every
 * store like the conformance suite: any interleaving of claim, partial
 * commit, release, crash (a worker vanishes and a new owner releases its
 * claims) and lease expiry leaves exactly the committed items the model
 * predicts, never one twice (no-loss, no-duplicates), and a final drain
 * always completes the run.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { LeaseLostError } from '../../src/errors.ts'
import type { Claim, Store } from '../../src/journal/store.ts'

const TOTAL = 60
const TTL = 1_000

interface Model {
  committed: Set<number>
}
interface Real {
  store: Store
  now: number
  /** Claims as each worker believes it holds them (may be stale after expiry or a crash). */
  held: { worker: string; claim: Claim }[]
}

const commitPart = async (real: Real, model: Model, slot: number, fraction: number): Promise<void> => {
  const entry = real.held[slot % real.held.length]
  if (!entry) return
  const { claim } = entry
  const end = claim.start + Math.max(1, Math.floor((claim.end - claim.start) * fraction))
  try {
    await real.store.commitRange(
      claim,
      { start: claim.start, end, files: [], itemHashes: Buffer.alloc((end - claim.start) * 32) },
      real.now,
    )
    for (let i = claim.start; i < end; i++) {
      expect(model.committed.has(i)).toBe(false)
      model.committed.add(i)
    }
    if (end === claim.end) real.held.splice(real.held.indexOf(entry), 1)
    else entry.claim = { ...claim, start: end }
  } catch (error) {
    expect(error).toBeInstanceOf(LeaseLostError)
    real.held.splice(real.held.indexOf(entry), 1)
  }
}

class ClaimCommand implements fc.AsyncCommand<Model, Real> {
  constructor(
    readonly worker: string,
    readonly size: number,
  ) {}
  check = (): boolean => true
  async run(_model: Model, real: Real): Promise<void> {
    const claim = await real.store.claimRange(this.worker, this.size, TTL, real.now)
    if (claim) real.held.push({ worker: this.worker, claim })
  }
  toString = (): string => `claim(${this.worker}, ${this.size})`
}

class CommitCommand implements fc.AsyncCommand<Model, Real> {
  constructor(
    readonly slot: number,
    readonly fraction: number,
  ) {}
  check = (): boolean => true
  run = (model: Model, real: Real): Promise<void> => commitPart(real, model, this.slot, this.fraction)
  toString = (): string => `commit(${this.slot}, ${this.fraction.toFixed(2)})`
}

class ReleaseCommand implements fc.AsyncCommand<Model, Real> {
  constructor(readonly slot: number) {}
  check = (): boolean => true
  async run(_model: Model, real: Real): Promise<void> {
    const entry = real.held[this.slot % real.held.length]
    if (!entry) return
    real.held.splice(real.held.indexOf(entry), 1)
    await real.store.releaseClaim(entry.claim)
  }
  toString = (): string => `release(${this.slot})`
}

class CrashCommand implements fc.AsyncCommand<Model, Real> {
  constructor(readonly worker: string) {}
  check = (): boolean => true
  async run(_model: Model, real: Real): Promise<void> {
    real.held = real.held.filter((entry) => entry.worker !== this.worker)
    await real.store.releaseClaimsOf(this.worker)
  }
  toString = (): string => `crash(${this.worker})`
}

class ExpireCommand implements fc.AsyncCommand<Model, Real> {
  check = (): boolean => true
  async run(_model: Model, real: Real): Promise<void> {
    // Claims still "held" become stale: their commits must now be refused if retaken.
    real.now += TTL + 1
  }
  toString = (): string => 'expire'
}

const worker = fc.constantFrom('a', 'b', 'c')
const commands = [
  fc.tuple(worker, fc.integer({ min: 1, max: 25 })).map(([w, n]) => new ClaimCommand(w, n)),
  fc.tuple(fc.nat(10), fc.double({ min: 0, max: 1, noNaN: true })).map(([s, f]) => new CommitCommand(s, f)),
  fc.nat(10).map((s) => new ReleaseCommand(s)),
  worker.map((w) => new CrashCommand(w)),
  fc.constant(new ExpireCommand()),
]

/**
 * Registers the model test for one store. `makeStore` gives a store acting on
 * no run yet; each sequence records its own run (`r0`, `r1`, …), so a store
 * holding many runs in one database may hand out the same database each time.
 */
export function storeModel(name: string, makeStore: () => Promise<Store>, numRuns = 60): void {
  describe(`store model: ${name}`, () => {
    it('no-loss and no-duplicates: any claim/commit/release/crash/expiry sequence commits each item at most once, and a drain completes the run', async () => {
      let n = 0
      await fc.assert(
        fc.asyncProperty(fc.commands(commands, { maxCommands: 60 }), async (cmds) => {
          const store = await makeStore()
          try {
            await store.createRun({
              runId: `r${n++}`,
              job: 'j',
              fingerprint: 'f',
              identity: '{}',
              total: TOTAL,
              kind: 'map',
              createdAt: 0,
            })
            const model: Model = { committed: new Set() }
            const real: Real = { store, now: 0, held: [] }
            await fc.asyncModelRun(() => ({ model, real }), cmds)
            expect(await store.committedItems()).toBe(model.committed.size)
            // Drain: a new owner releases everything and finishes.
            await store.releaseClaimsOf('a')
            await store.releaseClaimsOf('b')
            await store.releaseClaimsOf('c')
            real.held = []
            real.now += TTL + 1
            for (
              let claim = await store.claimRange('z', 13, TTL, real.now);
              claim;
              claim = await store.claimRange('z', 13, TTL, real.now)
            ) {
              real.held.push({ worker: 'z', claim })
              await commitPart(real, model, real.held.length - 1, 1)
            }
            expect(model.committed.size).toBe(TOTAL)
            let next = 0
            for await (const range of store.ranges()) {
              expect(range.start).toBe(next)
              next = range.end
            }
            expect(next).toBe(TOTAL)
          } finally {
            await store.close()
          }
        }),
        { numRuns },
      )
    })
  })
}
