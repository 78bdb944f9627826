/**
 * A shared run (PostgreSQL journal) divides its limit across its live processes: each takes rate / processes. A
 * process learns how many there are from the journal's live claims (Store.claimHolders: every process at work holds
 * one), itself counted whether or not it holds one at that moment, read at start and at every heartbeat.
 *
 * The others count a process only once it holds a claim, and only at their next reading: a process that claims while
 * holding nothing (it joins, or comes back from waiting for work) and finds others at work makes no call until every
 * one of them has read the journal since (one heartbeat, the same for every process of a run under one policy, plus
 * the time a reading takes). Without that wait, the run went over its limit by the newcomer's share for up to a
 * heartbeat each time a process joined (measured: 58 requests in a second against a limit of 40, two workers
 * joining an owner at 2 s heartbeats, in test/crash/sharedRateLimit.test.ts run with --lease-ttl 6).
 */
import type { Store } from '../../journal/store.ts'
import type { SharedLimiter } from './sharedLimiter.ts'

/** How long a reading of the journal may take, beyond the heartbeat, before every other process has counted a newcomer. */
const READING_MS = 500

export interface ProcessShare {
  /** This process has just claimed while holding nothing: waits (counted as time on the limit) until the others count it. */
  claimedAfterIdle(): Promise<void>
  /** Stops the readings. */
  stop(): void
}

/** Keeps `limiter`'s share up to date every `everyMs`. */
export function divideAcrossProcesses(
  store: Pick<Store, 'claimHolders'>,
  me: string,
  limiter: SharedLimiter,
  everyMs: number,
  now: () => number,
): ProcessShare {
  const divide = (holders: readonly string[]): void => limiter.setShare(holders.length + (holders.includes(me) ? 0 : 1))
  const read = (): void => {
    // The journal did not answer: the share stays as it was, and the next heartbeat reads it again.
    store.claimHolders(now()).then(divide, () => undefined)
  }
  read()
  const timer = setInterval(read, everyMs)
  timer.unref()
  return {
    async claimedAfterIdle() {
      const holders = await store.claimHolders(now())
      divide(holders)
      if (holders.some((holder) => holder !== me)) limiter.pauseFor(everyMs + READING_MS)
    },
    stop: () => clearInterval(timer),
  }
}
