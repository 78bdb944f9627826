import { createHash, type Hash } from 'node:crypto'

/** A range recorded in the journal, with its items' hashes as they were committed. */
export interface RecordedRange {
  readonly start: number
  readonly end: number
  readonly itemHashes: Uint8Array
  /** The hashes' memory may take another range's (RangeResult.release). */
  readonly release?: () => void
}

/**
 * The dataset digest (shards/digest.ts: sha256 over every item's hash in index order) taken while a run's ranges are
 * committed, from the hashes the coordinator commits, instead of read back from the journal at the end: that read
 * allocates a buffer per range (31 MiB at 1,000,000 items) that nothing frees before the process ends.
 *
 * Only for a session that commits every range of its run (a single-machine run started afresh): it begins at item 0.
 * A range recorded ahead of one still in flight is kept, its hashes unreleased, until the ranges before it come; past
 * `maxWaitingBytes` of such hashes (one range held up while many others go on), or at anything out of the ordinary (a
 * range below what is digested), it gives up and the digest is read from the journal as before. So it gives a digest only when
 * it has hashed items 0 to the end in order, each range's hashes exactly as the journal recorded them.
 */
export class PrefixDigest {
  private readonly hash: Hash = createHash('sha256')
  /** Items [0, next) are hashed. */
  private next = 0
  private readonly waiting = new Map<number, RecordedRange>()
  private waitingBytes = 0
  private gaveUp = false

  constructor(private readonly maxWaitingBytes: number) {}

  /**
   * `range` is recorded in the journal. Returns true when the digest keeps its hashes for later (it then releases
   * them itself); false when the caller may release them at once.
   */
  recorded(range: RecordedRange): boolean {
    if (this.gaveUp) return false
    if (range.start < this.next || this.waiting.has(range.start)) {
      this.giveUp()
      return false
    }
    if (range.start > this.next) {
      if (this.waitingBytes + range.itemHashes.byteLength > this.maxWaitingBytes) {
        this.giveUp()
        return false
      }
      this.waiting.set(range.start, range)
      this.waitingBytes += range.itemHashes.byteLength
      return true
    }
    this.hash.update(range.itemHashes)
    this.next = range.end
    for (let after = this.waiting.get(this.next); after; after = this.waiting.get(this.next)) {
      this.waiting.delete(after.start)
      this.waitingBytes -= after.itemHashes.byteLength
      this.hash.update(after.itemHashes)
      this.next = after.end
      after.release?.()
    }
    return false
  }

  /**
   * The session is over: lets go of every range kept, and returns the digest of items [0, total) if every one of them
   * was hashed here in order, else undefined (it is then read from the journal).
   */
  finish(total: number): string | undefined {
    const whole = !this.gaveUp && this.next === total && this.waiting.size === 0
    this.giveUp()
    return whole ? this.hash.digest('hex') : undefined
  }

  /** From now on the digest is read from the journal: every range kept is let go. */
  private giveUp(): void {
    this.gaveUp = true
    for (const range of this.waiting.values()) range.release?.()
    this.waiting.clear()
    this.waitingBytes = 0
  }
}
