/**
 * The hash slots a map run's coordinator lends its worker threads (hashSlots.ts): a slot holds one range's item hashes
 * from the moment a thread is free to make the range until its commit has settled, and is never handed to a second
 * range meanwhile; a range waiting for a thread holds none; slots are reused rather than allocated per range, and
 * never outnumber the ranges holding one at once.
 */
import { describe, expect, it } from 'vitest'
import { ITEM_HASH_BYTES } from '../../../src/job/outputs/format.ts'
import { HashSlots } from '../../../src/work/map/hashSlots.ts'

/** Whether `promise` has settled once everything already queued has run. */
async function settled(promise: Promise<unknown>): Promise<boolean> {
  let done = false
  void promise.then(() => {
    done = true
  })
  await new Promise((resolve) => setImmediate(resolve))
  return done
}

describe('hash slots', () => {
  it('hash-slot reuse: a slot held by a range is handed to no other until it is given back, even if given back twice', async () => {
    const slots = new HashSlots(3)
    const a = await slots.take(100)
    const b = await slots.take(100)
    expect(b).not.toBe(a)
    slots.made()
    slots.give(a)
    slots.give(a)
    expect(await slots.take(100)).toBe(a)
    // a was given back once in effect: the next range gets a slot of its own, not a second lease of a.
    slots.made()
    const c = await slots.take(100)
    expect([a, b]).not.toContain(c)
  })

  it('hash-slot reuse: a slot given back is reused, and one too small for a longer range is replaced, not kept beside it', async () => {
    const slots = new HashSlots(1)
    const small = await slots.take(10)
    expect(small.byteLength).toBeGreaterThanOrEqual(10 * ITEM_HASH_BYTES)
    slots.made()
    slots.give(small)
    const large = await slots.take(65_536)
    expect(large).not.toBe(small)
    expect(large.byteLength).toBeGreaterThanOrEqual(65_536 * ITEM_HASH_BYTES)
    slots.made()
    slots.give(large)
    // The small one was dropped for the large one: a short range now gets the large slot.
    expect(await slots.take(10)).toBe(large)
    slots.made()
    expect(await slots.take(10)).not.toBe(small)
  })

  it('a range waiting for a thread holds no hash slot: no more ranges take one than the threads make at once', async () => {
    // One thread, four ranges claimed ahead of it (as the coordinator claims them).
    const slots = new HashSlots(1)
    const first = await slots.take(65_536)
    const waiting = [slots.take(65_536), slots.take(65_536), slots.take(65_536)]
    for (const range of waiting) expect(await settled(range)).toBe(false)
    // The first range is made: the next one (and only it) gets its turn, and a slot of its own while the first commits.
    slots.made()
    expect(await settled(waiting[0]!)).toBe(true)
    expect(await settled(waiting[1]!)).toBe(false)
    const second = await waiting[0]!
    expect(second).not.toBe(first)
    // The first range's commit settles before the second is made: the third range reuses its slot.
    slots.give(first)
    slots.made()
    expect(await waiting[1]!).toBe(first)
    slots.give(second)
    slots.made()
    expect(await waiting[2]!).toBe(second)
  })
})
