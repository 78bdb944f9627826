import prand, { type RandomGenerator } from 'pure-rand'

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

const TWO_POW_32 = 2 ** 32
const TWO_POW_53 = 2 ** 53
const GOLDEN = 0x9e3779b9

/** A 32-bit finaliser with full avalanche (lowbias32): every input bit flips about half the output bits. */
function mix32(x: number): number {
  x ^= x >>> 16
  x = Math.imul(x, 0x7feb352d)
  x ^= x >>> 15
  x = Math.imul(x, 0x846ca68b)
  x ^= x >>> 16
  return x | 0
}

/** xoroshiro128+ (pure-rand) whose 128-bit state is mixed from (seed, index). */
export function itemRng(seed: number, index: number): Rng {
  const low = index >>> 0
  const high = Math.floor(index / TWO_POW_32) >>> 0
  const state: number[] = []
  for (let k = 0; k < 4; k++) state.push(mix32(mix32(mix32((seed + Math.imul(GOLDEN, k + 1)) | 0) ^ low) ^ (high + k)))
  if (!state.some((word) => word !== 0)) state[0] = 1
  return new ItemRng(prand.xoroshiro128plus.fromState(state))
}

class ItemRng implements Rng {
  constructor(private readonly generator: RandomGenerator) {}

  private u32(): number {
    return this.generator.unsafeNext() >>> 0
  }

  next(): number {
    const high = this.u32() >>> 5 // 27 bits
    const low = this.u32() >>> 6 // 26 bits
    return (high * 2 ** 26 + low) / TWO_POW_53
  }

  int(min: number, max: number): number {
    if (!Number.isSafeInteger(min) || !Number.isSafeInteger(max) || max < min) {
      throw new RangeError(`rng.int(min, max) needs integers with min <= max, got (${min}, ${max})`)
    }
    return prand.unsafeUniformIntDistribution(min, max, this.generator)
  }

  normal(mean = 0, sd = 1): number {
    let u = this.next()
    while (u === 0) u = this.next()
    return mean + sd * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * this.next())
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new RangeError('rng.pick needs a non-empty array')
    return items[Math.floor(this.next() * items.length)] as T
  }
}
