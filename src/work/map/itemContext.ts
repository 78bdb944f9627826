import { itemRng, type Rng } from '../../job/rng.ts'
import { addUsage } from '../../journal/usage.ts'
import { limitedFetch } from '../rateLimit/limitedCall.ts'
import type { SharedLimiter } from '../rateLimit/sharedLimiter.ts'

/** What every item context of a thread shares. */
export interface ThreadScope {
  readonly params: unknown
  readonly seed: number
  readonly limiter: SharedLimiter
  readonly stopping: () => boolean
}

/**
 * An item's `ctx`: one per attempt, made for millions of items that mostly never read it, so it holds only its index
 * and what its thread shares; what it reports with `usage` is made on first use.
 */
export class ItemContext {
  private ownRng: Rng | undefined
  /** What this attempt reported with `usage`; undefined until it reports something. */
  used: Record<string, number> | undefined
  constructor(
    readonly index: number,
    private readonly scope: ThreadScope,
  ) {}
  get params(): unknown {
    return this.scope.params
  }
  get seed(): number {
    return this.scope.seed
  }
  /** Created on first use: items that draw no random numbers pay nothing. */
  get rng(): Rng {
    return (this.ownRng ??= itemRng(this.scope.seed, this.index))
  }
  /** The global fetch; HTTP 429 (or 503 with Retry-After) throws RateLimitedError. */
  fetch(input: string | URL | Request, init?: RequestInit): Promise<Response> {
    return limitedFetch(input, init)
  }
  /** Takes counted units of the rate limit (`{ tokens: 812 }`), waiting until they are free; a stop cuts the wait short. */
  async take(amounts: Readonly<Record<string, number>>): Promise<void> {
    // The item is then left for the next run (makeItem sees the stop).
    if (!(await this.scope.limiter.take(amounts, this.scope.stopping))) throw new Error('the run is stopping')
  }
  /** Adds what this attempt used (`{ tokens: 812, usd: 0.0012 }`); counted when the item's range commits. */
  usage(amounts: Readonly<Record<string, number>>): void {
    for (const [unit, amount] of Object.entries(amounts ?? {})) {
      if (typeof amount !== 'number' || !Number.isFinite(amount) || amount < 0)
        throw new TypeError(`ctx.usage: ${unit} is ${String(amount)}; give each counter a finite number ≥ 0`)
    }
    addUsage((this.used ??= {}), amounts)
  }
}
