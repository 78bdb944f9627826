/**
 * What a rate limit is, as a job declares it (`defineJob({ rateLimit: { requests: 600, per: 'minute' } })`) or
 * `run --rate-limit 600/min` asks for it, resolved once into a list of limits, one per counted unit. `requests` are
 * counted by longhaul (one per call of the item function, a retry included); any other unit (`tokens`) is counted by
 * the item, with `ctx.take({ tokens: 812 })`.
 */
import { UsageError } from '../errors.ts'

/** One limit: at most `amount` of `unit` in any `perMs` window (for the whole run; a shared run divides it). */
export interface UnitLimit {
  readonly unit: string
  readonly amount: number
  readonly perMs: number
}

/** The resolved limits of a run; empty: none. */
export type RateLimit = readonly UnitLimit[]

/** The unit longhaul counts itself, once per call of the item function. */
export const REQUESTS = 'requests'

const PER_MS = { second: 1_000, minute: 60_000, hour: 3_600_000 } as const
type Per = keyof typeof PER_MS

/** `rateLimit` in defineJob: `per`, and how many of each unit in that time, e.g. `{ requests: 500, tokens: 90_000, per: 'minute' }`. */
export type RateLimitOption = { readonly per: Per } & { readonly [unit: string]: number | Per }

/** The job's `rateLimit` option as a list of limits. */
export function limitsOfOption(option: RateLimitOption | undefined): RateLimit {
  if (option === undefined) return []
  const { per, ...units } = option as unknown as { per: Per } & Record<string, number>
  return Object.entries(units).map(([unit, amount]) => ({ unit, amount, perMs: PER_MS[per] }))
}

const PER_WORDS: Record<string, number> = {
  s: 1_000,
  sec: 1_000,
  second: 1_000,
  m: 60_000,
  min: 60_000,
  minute: 60_000,
  h: 3_600_000,
  hour: 3_600_000,
}

/** `--rate-limit 600/min` or `500/min,tokens=90000/min`: requests unless a unit is named. */
export function parseRateLimit(text: string): RateLimit {
  return text.split(',').map((part) => {
    const match = /^\s*(?:([A-Za-z_][\w-]*)=)?(\d+(?:\.\d+)?)\/([a-z]+)\s*$/.exec(part)
    const perMs = match ? PER_WORDS[match[3]!] : undefined
    const amount = match ? Number(match[2]) : 0
    if (!match || perMs === undefined || !(amount > 0))
      throw new UsageError(
        `--rate-limit '${text}': give how many per second, minute or hour, e.g. 600/min, 20/s, or several with units: 500/min,tokens=90000/min`,
      )
    return { unit: match[1] ?? REQUESTS, amount, perMs }
  })
}

/** `600 requests/min, 90,000 tokens/min`: the limit in words. */
export function limitText(limit: RateLimit): string {
  const per = (ms: number): string => (ms === 1_000 ? 's' : ms === 60_000 ? 'min' : ms === 3_600_000 ? 'h' : `${ms} ms`)
  return limit.map((l) => `${l.amount.toLocaleString('en-US')} ${l.unit}/${per(l.perMs)}`).join(', ')
}
