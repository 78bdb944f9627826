/**
 * A range's items with many in flight at once, their results taken in index
 * order: what a worker thread does with async items (`concurrency`). Items
 * start in index order, each holding one of the thread's slots while it runs;
 * one that finishes before those below it waits for them, so the shard, the
 * items' hashes and the digest are the same as one at a time. The two ranges
 * a thread may hold at once share its slots: the next range fills those the
 * last one's final items leave free while it is written. At most `2 × slots`
 * items of a range are started and not yet taken: a slow item holds back new
 * starts rather than letting finished results pile up behind it.
 */
export interface InIndexOrder<T> {
  readonly start: number
  readonly end: number
  /** The thread's slots: items in flight at once, over every range it makes. */
  readonly slots: Slots
  /** Whether item `index` may start now (the range's deadline, size cap, the run's stop); asked once per item; once false, nothing more starts. */
  readonly mayStart: (index: number) => boolean
  /** Makes item `index`; never rejects (a failure is a result that `take` turns into the range's end). */
  readonly make: (index: number) => Promise<T>
  /** Takes item `index`'s result, in index order; false: the range ends before it (nothing after it is taken). */
  readonly take: (index: number, result: T) => boolean
  /** Item `start`, already under way and holding one of the slots (begun by a caller that made the items before it itself). */
  readonly started?: Promise<T>
}

/** How many items a thread has in flight, of how many it may. */
export class Slots {
  private used = 0
  private waiting: (() => void)[] = []

  constructor(readonly size: number) {}

  /** Takes a slot if one is free. */
  take(): boolean {
    if (this.used >= this.size) return false
    this.used++
    return true
  }

  give(): void {
    this.used--
    if (this.waiting.length) for (const wake of this.waiting.splice(0)) wake()
  }

  /** Calls `wake` once a slot is given back. */
  onFree(wake: () => void): void {
    this.waiting.push(wake)
  }
}

/** Makes items from `start` on; resolves, once none of its own is in flight, with the first index not taken. */
export async function inIndexOrder<T>(o: InIndexOrder<T>): Promise<number> {
  const held = new Map<number, T>()
  let next = o.start
  let launched = o.start
  let running = 0
  /** Nothing more starts (mayStart said no, or the range ended). */
  let closed = false
  /** The range ended before `next`: nothing more is taken. */
  let ended = false
  let wake: (() => void) | undefined
  const settle = (index: number, result: T): void => {
    running--
    o.slots.give()
    held.set(index, result)
    while (!ended && held.has(next)) {
      const taken = held.get(next) as T
      held.delete(next)
      if (o.take(next, taken)) next++
      else ended = closed = true
    }
    // Results after a range that ended early are dropped; those in flight are waited for, then dropped too.
    if (ended) held.clear()
    wake?.()
  }
  if (o.started) {
    const index = launched++
    running++
    void o.started.then((result) => settle(index, result))
  }
  for (;;) {
    while (!closed && launched < o.end && launched - next < 2 * o.slots.size) {
      if (!o.slots.take()) break
      // Asked once per item, when it could start now: the deadline is the one at its start.
      if (!o.mayStart(launched)) {
        o.slots.give()
        closed = true
        break
      }
      const index = launched++
      running++
      void o.make(index).then((result) => settle(index, result))
    }
    if (running === 0 && (closed || launched >= o.end)) return next
    // One of its own items settles, or (all slots taken by the thread's other range) a slot comes free.
    await new Promise<void>((resolve) => {
      wake = resolve
      if (!closed && launched < o.end) o.slots.onFree(resolve)
    })
    wake = undefined
  }
}
