/**
 * Up to `limit` items of a range in flight at once, their results taken in
 * index order: what a worker thread does with async items (`concurrency`).
 * Items start in index order; one that finishes before those below it waits
 * for them, so the shard, the items' hashes and the digest are the same as
 * one at a time. At most `2 × limit` items are started and not yet taken:
 * a slow item holds back new starts rather than letting finished results pile
 * up behind it.
 */
export interface InIndexOrder<T> {
  readonly start: number
  readonly end: number
  /** Items in flight at once (1: one after another, as a plain loop). */
  readonly limit: number
  /** Whether item `index` may start (the range's deadline, size cap, the run's stop); once false, nothing more starts. */
  readonly mayStart: (index: number) => boolean
  readonly make: (index: number) => Promise<T>
  /** Takes item `index`'s result, in index order; false: the range ends before it (nothing after it is taken). */
  readonly take: (index: number, result: T) => boolean
}

/** Makes items from `start` on; resolves, once nothing is in flight, with the first index not taken. */
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
  for (;;) {
    while (!closed && launched < o.end && running < o.limit && launched - next < 2 * o.limit) {
      if (!o.mayStart(launched)) {
        closed = true
        break
      }
      const index = launched++
      running++
      // make() settles with a result, never rejects: failures are results the take() turns into the range's end.
      void o.make(index).then((result) => settle(index, result))
    }
    if (running === 0) return next
    await new Promise<void>((resolve) => {
      wake = resolve
    })
    wake = undefined
  }
}
