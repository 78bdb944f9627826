/**
 * Picks how many items to lease at once, from the measured time per item, so
 * that a worker commits every `targetMs` or so: not every item (an fsync
 * each) and not every hour (a crash would lose it). It starts at one item and
 * grows at most fourfold per measurement, so a slow job is never handed a
 * huge first range on a guess. With several items in flight per thread
 * (`concurrency`), a range is never smaller than that many while there are
 * enough left to share: they run side by side, so a range of them takes
 * about as long as one item, and a smaller one would leave slots idle.
 */
export class ChunkSizer {
  private msPerItem: number | undefined
  private ceiling = 1

  constructor(
    private readonly workers: number,
    private readonly targetMs = 2_000,
    private readonly maxItems = 65_536,
    /** Items one thread has in flight at once. */
    private readonly inFlight = 1,
  ) {}

  /** The size of the next range, given how many items nobody holds yet. */
  next(unclaimed: number): number {
    const byTime = this.msPerItem === undefined ? 1 : Math.floor(this.targetMs / Math.max(this.msPerItem, 1e-6))
    const fairShare = Math.ceil(unclaimed / this.workers)
    return Math.max(1, Math.min(Math.max(Math.min(byTime, this.ceiling), this.inFlight), fairShare, this.maxItems))
  }

  /** Records that `items` took `busyMs` to make. */
  observe(items: number, busyMs: number): void {
    if (items <= 0) return
    const sample = busyMs / items
    this.msPerItem = this.msPerItem === undefined ? sample : 0.7 * this.msPerItem + 0.3 * sample
    this.ceiling = Math.min(this.maxItems, Math.max(this.ceiling, items) * 4)
  }
}
