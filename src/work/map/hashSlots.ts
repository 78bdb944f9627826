import { ITEM_HASH_BYTES } from '../../job/outputs/format.ts'
import { Slots } from './inIndexOrder.ts'

/** The smallest slot, in items: ranges of a few items (a run's first ones) share slots of this size. */
const MIN_ITEMS = 1024

/**
 * Memory the coordinating thread shares with its worker threads, where a range's item hashes are written: one slot
 * per range being made or committed, each reused from range to range. A worker thread writes the hashes into the slot
 * its task names, and the coordinator commits them from there: nothing is allocated or copied per range, so nothing
 * piles up for the collector (memory that the threads' collectors free only once tens of MB of it have piled up; see
 * bench/README.md, "Memory").
 *
 * When a slot is taken: only once a thread is free to make the range (fewer than `makers` ranges are being made). A
 * range claimed ahead, waiting for a thread, holds none: at 65,536 items a slot is 2 MiB.
 *
 * The rule of reuse: a slot is taken for a range when a thread is free to make it and given back only once that range's
 * commit has settled (RangeResult.release). Until then no other range is handed it.
 */
export class HashSlots {
  private readonly free: SharedArrayBuffer[] = []
  /** Ranges being made (a slot taken, `made` not yet called), at most as many as the threads make at once. */
  private readonly making: Slots

  /** `makers`: how many ranges the threads make at once (threads × ranges per thread). */
  constructor(makers: number) {
    this.making = new Slots(makers)
  }

  /**
   * Once a thread is free for it, a slot that holds the hashes of `items` items: a free one large enough, else a new
   * one in place of a free one too small.
   */
  async take(items: number): Promise<SharedArrayBuffer> {
    // Those waiting are woken in the order they came, and take their turn in it.
    while (!this.making.take()) await new Promise<void>((wake) => this.making.onFree(wake))
    const bytes = items * ITEM_HASH_BYTES
    const fit = this.free.findIndex((slot) => slot.byteLength >= bytes)
    if (fit >= 0) return this.free.splice(fit, 1)[0]!
    // A slot too small is dropped rather than kept beside the new one: there are never more slots than ranges holding one.
    this.free.pop()
    return new SharedArrayBuffer(slotItems(items) * ITEM_HASH_BYTES)
  }

  /** A range taken with `take` is made (or its thread failed): its thread is free for the next range; its slot stays lent until `give`. */
  made(): void {
    this.making.give()
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
