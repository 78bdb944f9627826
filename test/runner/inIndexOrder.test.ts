import { setTimeout as sleep } from 'node:timers/promises'
import { expect, it } from 'vitest'
import { inIndexOrder, Slots } from '../../src/work/map/inIndexOrder.ts'

/** Item i waits a few ms, pseudo-randomly, so items finish out of index order; counts what is in flight and held. */
function items(seen: { inFlight: number; peak: number }) {
  return async (index: number): Promise<number> => {
    seen.inFlight++
    seen.peak = Math.max(seen.peak, seen.inFlight)
    await sleep((index * 7919) % 13)
    seen.inFlight--
    return index * 10
  }
}

it('determinism: results are taken in index order, never more in flight than the slots, and held ones stay under twice the slots', async () => {
  const seen = { inFlight: 0, peak: 0 }
  const taken: number[] = []
  let startedNotTaken = 0
  let heldPeak = 0
  const make = items(seen)
  const end = await inIndexOrder({
    start: 100,
    end: 300,
    slots: new Slots(8),
    mayStart: () => true,
    make: async (index) => {
      startedNotTaken++
      heldPeak = Math.max(heldPeak, startedNotTaken)
      return await make(index)
    },
    take: (index, value) => {
      startedNotTaken--
      expect(value).toBe(index * 10)
      taken.push(index)
      return true
    },
  })
  expect(end).toBe(300)
  expect(taken).toEqual(Array.from({ length: 200 }, (_, i) => 100 + i))
  expect(seen.peak).toBe(8)
  expect(heldPeak).toBeLessThanOrEqual(16)
})

it('two ranges of one thread share its slots: together never more in flight than it has', async () => {
  const seen = { inFlight: 0, peak: 0 }
  const slots = new Slots(5)
  const range = (start: number, end: number) =>
    inIndexOrder({ start, end, slots, mayStart: () => true, make: items(seen), take: () => true })
  expect(await Promise.all([range(0, 60), range(60, 90)])).toEqual([60, 90])
  expect(seen.peak).toBe(5)
})

it('a failed item ends the range before it: nothing after it is taken, and nothing is left in flight', async () => {
  const seen = { inFlight: 0, peak: 0 }
  const taken: number[] = []
  const end = await inIndexOrder({
    start: 0,
    end: 100,
    slots: new Slots(8),
    mayStart: () => true,
    make: items(seen),
    take: (index) => {
      if (index === 37) return false
      taken.push(index)
      return true
    },
  })
  expect(end).toBe(37)
  expect(taken).toEqual(Array.from({ length: 37 }, (_, i) => i))
  expect(seen.inFlight).toBe(0)
})

it('once mayStart says no, nothing more starts, and what is in flight is still taken (a graceful stop commits every finished call)', async () => {
  const seen = { inFlight: 0, peak: 0 }
  let asked = 0
  const end = await inIndexOrder({
    start: 0,
    end: 100,
    slots: new Slots(8),
    // Stop after 20 items were let start.
    mayStart: () => ++asked <= 20,
    make: items(seen),
    take: () => true,
  })
  expect(end).toBe(20)
  expect(seen.inFlight).toBe(0)
})
