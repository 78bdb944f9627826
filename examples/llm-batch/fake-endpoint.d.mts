export interface Usage {
  readonly prompt_tokens: number
  readonly completion_tokens: number
  readonly total_tokens: number
}

export interface FakeEndpointOptions {
  /** 0: a free port. @default 0 */
  readonly port?: number
  /** How long a 200 answer takes. @default 50 */
  readonly latencyMs?: number
  /** Requests answered per window; the rest get 429 with Retry-After. @default Infinity */
  readonly limit?: number
  /** @default 1000 */
  readonly windowMs?: number
  /** The share of requests within the limit answered 500, drawn from (seed, prompt, attempt). @default 0 */
  readonly failRate?: number
  /** @default 1 */
  readonly seed?: number
  /** When set, a request without `Authorization: Bearer <key>` is answered 401. */
  readonly key?: string
}

export interface FakeEndpointTotals {
  readonly requests: number
  readonly ok: number
  readonly rateLimited: number
  readonly failed: number
  readonly unauthorized: number
}

export interface FakeEndpoint {
  /** The base URL, ending in /v1: POST `${url}/chat/completions`. */
  readonly url: string
  /** Every request received, per prompt. */
  readonly received: Map<string, number>
  /** Requests answered 200 (paid calls), per prompt. */
  readonly answered: Map<string, number>
  totals(): FakeEndpointTotals
  close(): Promise<void>
}

export function answerFor(prompt: string): { content: string; usage: Usage }
export function startFakeEndpoint(options?: FakeEndpointOptions): Promise<FakeEndpoint>
