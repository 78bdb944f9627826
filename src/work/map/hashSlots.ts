import { ITEM_HASH_BYTES } from '../../job/outputs/format.ts'

/** The smallest slot, in items: ranges of a few items (a run's first ones) share slots of this size. */
const MIN_ITEMS = 1024

/**
 * Memory the coordinating thread shares with its worker threads, where a range's item hashes are written: one slot
 * per range in flight, each reused from range to range. A worker thread writes the hashes into the slot its task
 * names, and the coordinator commits them from there: nothing is allocated or copied per range, so nothing piles up
 * for the collector (memory that the threads' collectors free only once tens of MB of it have piled up; see
 * bench/README.md, "Memory").
 *
 * The rule of reuse: a slot is taken for a range when its task is handed out and given back only once that range's
 * commit has settled (RangeResult.release). Until then no other range is handed it.
 */
export class HashSlots {
  private readonly free: SharedArrayBuffer[] = []

  /** A slot that holds the hashes of `items` items: a free one large enough, else a new one in place of a free one too small. */
  take(items: number): SharedArrayBuffer {
    const bytes = items * ITEM_HASH_BYTES
    const fit = this.free.findIndex((slot) => slot.byteLength >= bytes)
    if (fit >= 0) return this.free.splice(fit, 1)[0]!
    // A slot too small is dropped rather than kept beside the new one: there are never more slots than ranges in flight.
    this.free.pop()
    return new SharedArrayBuffer(slotItems(items) * ITEM_HASH_BYTES)
  }

  /** The range whose hashes `slot` holds has been committed (or dropped): the slot may hold another range's. */
  give(slot: SharedArrayBuffer): void {
    if (!this.free.includes(slot)) this.free.push(slot)
  }
}

/** Items rounded up to a power of two (at least MIN_ITEMS): ranges grow fourfold at a time up to a fixed cap (chunkSizer.ts). */
function slotItems(items: number): number {
  return Math.max(MIN_ITEMS, 2 ** Math.ceil(Math.log2(Math.max(1, items))))
}
