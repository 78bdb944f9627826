import { expect, it } from 'vitest'
import { ChunkSizer } from '../../src/work/map/chunkSizer.ts'

it('chunk size starts at one item, grows at most fourfold per measurement, and settles on ~2 s of work', () => {
  const sizer = new ChunkSizer(2, 2_000, 250_000)
  expect(sizer.next(10_000)).toBe(1)
  const sizes: number[] = []
  for (let i = 0; i < 10; i++) {
    const size = sizer.next(1_000_000)
    sizes.push(size)
    sizer.observe(size, size * 10) // 10 ms per item
  }
  for (let i = 1; i < sizes.length; i++) expect(sizes[i]!).toBeLessThanOrEqual(sizes[i - 1]! * 4)
  expect(sizes.at(-1)).toBe(200)
})

it('chunk size never exceeds a fair share of what is left, so the last items spread over all workers', () => {
  const sizer = new ChunkSizer(4, 2_000, 250_000)
  for (let i = 0; i < 10; i++) sizer.observe(1000, 1)
  expect(sizer.next(100)).toBe(25)
  expect(sizer.next(1)).toBe(1)
})

it('chunk size is capped for trivial items', () => {
  const sizer = new ChunkSizer(1)
  for (let i = 0; i < 20; i++) sizer.observe(sizer.next(1e9), 0)
  expect(sizer.next(1e9)).toBe(65_536)
})
