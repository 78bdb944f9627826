import { hash } from 'node:crypto'
import prand from 'pure-rand'

/**
 * The random stream of one item. It is derived from (seed, index) alone, so an
 * item's values never depend on which worker made it, in which order, or how
 * many crashes came before (invariant determinism).
 */
export interface Rng {
  /** A float in [0, 1) with 53 bits of randomness. */
  next(): number
  /** An integer in [min, max], both inclusive. */
  int(min: number, max: number): number
  /** A normally distributed number (Box–Muller). */
  normal(mean?: number, sd?: number): number
  /** One element of a non-empty array. */
  pick<T>(items: readonly T[]): T
}

const TWO_POW_53 = 2 ** 53

/** xoroshiro128+ (pure-rand) seeded with 128 bits of sha256(seed, index). */
export function itemRng(seed: number, index: number): Rng {
  const digest = hash('sha256', `longhaul:${seed}:${index}`, 'buffer')
  const state: number[] = [digest.readInt32LE(0), digest.readInt32LE(4), digest.readInt32LE(8), digest.readInt32LE(12)]
  if (!state.some((word) => word !== 0)) state[0] = 1
  const generator = prand.xoroshiro128plus.fromState(state)
  const u32 = (): number => generator.unsafeNext() >>> 0

  const next = (): number => {
    const high = u32() >>> 5 // 27 bits
    const low = u32() >>> 6 // 26 bits
    return (high * 2 ** 26 + low) / TWO_POW_53
  }
  return {
    next,
    int(min, max) {
      if (!Number.isSafeInteger(min) || !Number.isSafeInteger(max) || max < min) {
        throw new RangeError(`rng.int(min, max) needs integers with min <= max, got (${min}, ${max})`)
      }
      return prand.unsafeUniformIntDistribution(min, max, generator)
    },
    normal(mean = 0, sd = 1) {
      let u = next()
      while (u === 0) u = next()
      const v = next()
      return mean + sd * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v)
    },
    pick(items) {
      if (items.length === 0) throw new RangeError('rng.pick needs a non-empty array')
      return items[Math.floor(next() * items.length)] as (typeof items)[number]
    },
  }
}

