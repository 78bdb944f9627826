/**
 * The run-wide Retry-After tests' service and checks, the same for worker threads and for Python worker processes:
 * the first call made after both workers have made one (each call names its worker, header x-worker) is answered 429
 * with Retry-After: 1. At 3 calls/s (one every ~390 ms) no call is on its way when it is answered, and the other
 * worker has calls waiting their turn in the limit's line: one whose turn comes within the second must be held by the
 * pause it is told of while it waits.
 */
import { expect } from 'vitest'
import type { Answer, Arrival } from './countingServer.mjs'

/** An answer for startCountingServer that refuses one call so, given the server's arrivals (read when asked). */
export function refuseOnceBothWorkersCalled(arrivals: () => readonly Arrival[]): {
  answer: (request: unknown, n: number) => Answer
  /** Which arrival was refused; undefined until one was. */
  readonly refused: number | undefined
} {
  const refusal = {
    refused: undefined as number | undefined,
    answer(_: unknown, n: number): Answer {
      if (refusal.refused !== undefined || new Set(arrivals().map((a) => a.worker)).size < 2) return { status: 200 }
      refusal.refused = n
      return { status: 429, headers: { 'retry-after': '1' } }
    },
  }
  return refusal
}

/**
 * No call of either worker arrived within the second after the refused one; the other worker made calls after it (it
 * was held, not idle), and the refused call was made again (without using up the item's retries: the job has none).
 */
export function expectBothWorkersHeld(arrivals: readonly Arrival[], refused: number | undefined): void {
  expect(refused, JSON.stringify(arrivals)).toBeDefined()
  const limited = arrivals[refused!]!
  const after = arrivals.slice(refused! + 1)
  expect(
    after.filter((a) => a.at < limited.at + 1000),
    JSON.stringify(arrivals),
  ).toEqual([])
  expect(after.some((a) => a.worker !== limited.worker)).toBe(true)
  expect(after.some((a) => a.path === limited.path)).toBe(true)
}
