/**
 * A shared run (PostgreSQL journal) divides its limit across its live processes: each takes rate / processes. A
 * process learns how many there are from the journal's live claims (Store.claimHolders: every process at work holds
 * one), itself counted whether or not it holds one at that moment, read at start and at every heartbeat. Between a
 * process joining and the others' next reading (at most one heartbeat), the run may go that much over its share.
 */
import type { Store } from '../../journal/store.ts'
import type { SharedLimiter } from './sharedLimiter.ts'

/** Keeps `limiter`'s share up to date every `everyMs`; returns what stops it. */
export function divideAcrossProcesses(
  store: Pick<Store, 'claimHolders'>,
  me: string,
  limiter: SharedLimiter,
  everyMs: number,
  now: () => number,
): () => void {
  const read = (): void => {
    store.claimHolders(now()).then(
      (holders) => limiter.setShare(holders.length + (holders.includes(me) ? 0 : 1)),
      // The journal did not answer: the share stays as it was, and the next heartbeat reads it again.
      () => undefined,
    )
  }
  read()
  const timer = setInterval(read, everyMs)
  timer.unref()
  return () => clearInterval(timer)
}
