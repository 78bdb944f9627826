/**
 * The digest a fresh run takes as its ranges commit (prefixDigest.ts) is the dataset digest (shards/digest.ts): sha256
 * over every item's hash in index order, whatever order the ranges commit in; and the hashes of a range kept for later
 * are not let go (their slot not reused) before they are hashed.
 */
import { createHash, randomBytes } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { ITEM_HASH_BYTES } from '../../../src/job/outputs/format.ts'
import { PrefixDigest, type RecordedRange } from '../../../src/work/map/prefixDigest.ts'

/** Ranges [0, 4), [4, 10), [10, 11), [11, 30), [30, 64) with random item hashes. */
const BOUNDS = [0, 4, 10, 11, 30, 64]
const TOTAL = 64
const hashes = randomBytes(TOTAL * ITEM_HASH_BYTES)
const inOrder = createHash('sha256').update(hashes).digest('hex')

/** The ranges, each with a copy of its hashes that `release` wipes (as a reused slot would be overwritten). */
function ranges(released: number[]): RecordedRange[] {
  return BOUNDS.slice(0, -1).map((start, i) => {
    const end = BOUNDS[i + 1]!
    const itemHashes = Uint8Array.from(hashes.subarray(start * ITEM_HASH_BYTES, end * ITEM_HASH_BYTES))
    return {
      start,
      end,
      itemHashes,
      release: () => {
        itemHashes.fill(0)
        released.push(start)
      },
    }
  })
}

/** Records `order` (indexes into the ranges), releasing each the digest does not keep, as driveRanges does; returns the digest and the starts of the ranges released. */
function commitIn(order: number[], maxWaitingBytes: number) {
  const released: number[] = []
  const all = ranges(released)
  const prefix = new PrefixDigest(maxWaitingBytes)
  for (const i of order) if (!prefix.recorded(all[i]!)) all[i]!.release?.()
  return { digest: prefix.finish(TOTAL), released: released.sort((a, b) => a - b) }
}

describe('digest taken as ranges commit', () => {
  it('digest-as-committed: ranges committed out of index order give the digest of the items in index order', () => {
    for (const order of [
      [0, 1, 2, 3, 4],
      [1, 0, 2, 4, 3],
      [4, 3, 2, 1, 0],
      [2, 4, 0, 3, 1],
    ]) {
      expect(commitIn(order, 4096).digest).toBe(inOrder)
    }
  })

  it('digest-as-committed: a range kept for later is let go only once it is hashed, and every range is let go once', () => {
    const { digest, released } = commitIn([3, 1, 4, 0, 2], 4096)
    // A release before the hashing would have wiped the hashes: the digest would differ.
    expect(digest).toBe(inOrder)
    // Every range released exactly once, by the caller or by the digest.
    expect(released).toEqual(BOUNDS.slice(0, -1))
  })

  it('digest-as-committed: past its limit of hashes kept, or with a range missing, it gives no digest (the journal is read) and lets go of every range', () => {
    // Waiting: 34 + 19 + 1 items (1,728 bytes of hashes), then 6 more.
    const tooMany = commitIn([4, 3, 2, 1, 0], 1800)
    expect(tooMany.digest).toBeUndefined()
    expect(tooMany.released).toEqual(BOUNDS.slice(0, -1))
    const missing = commitIn([0, 2, 3, 4], 4096)
    expect(missing.digest).toBeUndefined()
    expect(missing.released).toEqual([0, 10, 11, 30])
    const twice = commitIn([0, 1, 1, 2, 3, 4], 4096)
    expect(twice.digest).toBeUndefined()
  })
})
