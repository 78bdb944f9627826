/**
 * How an item meets a service's limit, in the worker thread: each call of the item function takes one request
 * from the shared limiter first; an item that throws RateLimitedError (or whose `ctx.fetch` got HTTP 429, or 503
 * with Retry-After) is called again after a backoff with full jitter, never sooner than the Retry-After, while every
 * thread holds its calls until then. Those calls do not use up the item's `retries`; after RATE_LIMITED_TRIES of them
 * in a row the item fails, naming the limit.
 */
import { RateLimitedError } from '../../errors.ts'
import { REQUESTS } from '../../job/rateLimit.ts'
import type { SharedLimiter } from './sharedLimiter.ts'

/** "Rate limited" answers to one item before it fails. */
const RATE_LIMITED_TRIES = 30
/** The backoff's first step and ceiling, ms: full jitter draws the wait from [0, min(CAP, BASE·2^(n-1))). */
const BACKOFF_BASE_MS = 500
const BACKOFF_CAP_MS = 60_000

/** What the n-th rate-limited answer in a row means: wait this long (ms), or give up with this error. */
export function afterRateLimited(limiter: SharedLimiter, error: RateLimitedError, n: number): number | Error {
  limiter.countLimited()
  if (n >= RATE_LIMITED_TRIES) {
    const limit = limiter.text
    return new Error(
      `the service answered "rate limited" ${n} times in a row (last: ${error.message}); ` +
        `it allows fewer calls than this run makes${limit ? ` at its limit of ${limit}` : ''}: give a lower --rate-limit, or fewer workers`,
    )
  }
  const jitter = Math.random() * Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** (n - 1))
  if (error.retryAfterMs !== undefined) limiter.pauseFor(error.retryAfterMs)
  return Math.max(error.retryAfterMs ?? 0, jitter)
}

/** One request of the limit, before each call of the item function. */
export const ONE_REQUEST: Readonly<Record<string, number>> = { [REQUESTS]: 1 }

/** Retry-After: seconds, or an HTTP date; undefined when absent or unreadable. */
function retryAfterMs(header: string | null, now = Date.now()): number | undefined {
  if (header === null) return undefined
  const text = header.trim()
  if (/^\d+(\.\d+)?$/.test(text)) return Number(text) * 1000
  const at = Date.parse(text)
  return Number.isNaN(at) ? undefined : Math.max(0, at - now)
}

/**
 * Loads fetch (Node compiles its HTTP client on the first call: ~50 ms, more on a busy machine), so that a paced
 * call is not that late for it. Called as a thread of a run with a rate limit starts.
 */
export function loadFetch(): void {
  fetch('data:,').then(
    (response) => response.body?.cancel(),
    () => undefined,
  )
}

/**
 * `ctx.fetch`: the global fetch, except that HTTP 429, and 503 with a Retry-After, throw RateLimitedError (the body
 * is discarded); every other answer is returned as it is, errors included.
 */
export async function limitedFetch(input: string | URL | Request, init?: RequestInit): Promise<Response> {
  const response = await fetch(input, init)
  if (response.status !== 429 && response.status !== 503) return response
  const after = retryAfterMs(response.headers.get('retry-after'))
  if (response.status === 503 && after === undefined) return response
  await response.body?.cancel()
  const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url
  throw new RateLimitedError(
    `${url} answered ${response.status}${after === undefined ? '' : ` with Retry-After ${Math.round(after)} ms`}`,
    after,
  )
}
