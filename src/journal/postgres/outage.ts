import { setTimeout as sleep } from 'node:timers/promises'
import { StoreUnavailableError } from '../../errors.ts'
import { driverMessage } from './connect.ts'

/** The server stopped answering, or answers again: what a store's owner hears of an outage, once each way. */
export type OutageChange =
  | { readonly state: 'unreachable'; readonly reason: string; readonly waitMs: number }
  | { readonly state: 'answering'; readonly afterMs: number }

const FIRST_DELAY_MS = 100
const MAX_DELAY_MS = 1_000

/**
 * Carries one store's calls through an outage of its server (a restart, a
 * failover): a call that throws StoreUnavailableError is tried again, after
 * 0.1 s, then twice as long each time up to 1 s, until the server answers or
 * `waitMs` has passed since the outage began. Every call of the store shares
 * that one deadline: once it has passed, a call fails at its first failed
 * attempt, until the server answers again.
 *
 * Only the outcome of an attempt started after the last change of state
 * changes it again: a reply from before the server went away does not end
 * the outage, and a failure from before it came back does not begin a new one.
 */
export class OutageRetry {
  /** When the current outage began; undefined while the server answers. */
  private since: number | undefined
  /** When the current outage's first failure was seen: its wait is counted from there. */
  private failingSince: number | undefined
  private endedAt = Number.NEGATIVE_INFINITY

  constructor(
    private readonly waitMs: number,
    private readonly onChange: ((change: OutageChange) => void) | undefined,
  ) {}

  async call<T>(attempt: () => Promise<T>): Promise<T> {
    let firstFailure: number | undefined
    for (let delay = FIRST_DELAY_MS; ; delay = Math.min(MAX_DELAY_MS, delay * 2)) {
      const startedAt = Date.now()
      try {
        const result = await attempt()
        if (this.since !== undefined && startedAt >= this.since) this.answering()
        return result
      } catch (error) {
        if (!(error instanceof StoreUnavailableError) || this.waitMs <= 0) throw error
        // The wait is counted from the first failure seen, not from when the attempt began: a process paused in the
        // middle of a call (SIGSTOP, swapped out) has not been waiting for the server, and must ask it again.
        const failedAt = Date.now()
        firstFailure ??= failedAt
        if (this.since === undefined && startedAt >= this.endedAt) this.unreachable(error, startedAt, failedAt)
        const waited = Date.now() - (this.failingSince ?? firstFailure)
        if (waited >= this.waitMs) {
          throw new StoreUnavailableError(`${error.message} (Tried again for ${seconds(waited)} s.)`, error.cause)
        }
        await sleep(Math.min(delay, this.waitMs - waited))
      }
    }
  }

  private unreachable(error: StoreUnavailableError, at: number, failedAt: number): void {
    this.since = at
    this.failingSince = failedAt
    this.onChange?.({ state: 'unreachable', reason: driverMessage(error.cause ?? error), waitMs: this.waitMs })
  }

  private answering(): void {
    const afterMs = Date.now() - this.since!
    this.since = undefined
    this.failingSince = undefined
    this.endedAt = Date.now()
    this.onChange?.({ state: 'answering', afterMs })
  }
}

function seconds(ms: number): string {
  return (ms / 1000).toFixed(1)
}
