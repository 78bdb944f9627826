/**
 * The hash slots a map run's coordinator lends its worker threads (hashSlots.ts): a slot holds one range's item hashes
 * from the moment its task is handed out until its commit has settled, and is never handed to a second range meanwhile;
 * slots are reused rather than allocated per range, and never outnumber the ranges holding one at once.
 */
import { describe, expect, it } from 'vitest'
import { ITEM_HASH_BYTES } from '../../../src/job/outputs/format.ts'
import { HashSlots } from '../../../src/work/map/hashSlots.ts'

describe('hash slots', () => {
  it('hash-slot reuse: a slot held by a range is handed to no other until it is given back, even if given back twice', () => {
    const slots = new HashSlots()
    const a = slots.take(100)
    const b = slots.take(100)
    expect(b).not.toBe(a)
    slots.give(a)
    slots.give(a)
    expect(slots.take(100)).toBe(a)
    // a was given back once in effect: the next range gets a slot of its own, not a second lease of a.
    const c = slots.take(100)
    expect([a, b]).not.toContain(c)
  })

  it('hash-slot reuse: a slot given back is reused, and one too small for a longer range is replaced, not kept beside it', () => {
    const slots = new HashSlots()
    const small = slots.take(10)
    expect(small.byteLength).toBeGreaterThanOrEqual(10 * ITEM_HASH_BYTES)
    slots.give(small)
    const large = slots.take(65_536)
    expect(large).not.toBe(small)
    expect(large.byteLength).toBeGreaterThanOrEqual(65_536 * ITEM_HASH_BYTES)
    slots.give(large)
    // The small one was dropped for the large one: a short range now gets the large slot.
    expect(slots.take(10)).toBe(large)
    expect(slots.take(10)).not.toBe(small)
  })
})
