import { expect, it } from 'vitest'
import { checkpointsOf } from '../../src/dashboard/runs.ts'
import type { RunEvent } from '../../src/journal/store.ts'

// The run page's commits, from a journal's events: a map job's checkpoints name ranges of items; a loop's and a
// supervised program's name the step they were taken at, and stand for the steps since the one before.

const event = (at: number, type: string, detail: Record<string, unknown> = {}): RunEvent => ({ at, type, detail })

it("a map job's commits are its ranges; a loop's or program's checkpoints are the steps each covers, never NaN", () => {
  const map = [
    event(1, 'started'),
    event(2, 'checkpoint', { start: 0, end: 8 }),
    event(3, 'checkpoint', { start: 8, end: 40 }),
  ]
  expect(checkpointsOf(map, 0)).toEqual([
    { at: 2, start: 0, end: 8 },
    { at: 3, start: 8, end: 40 },
  ])
  const loop = [
    event(1, 'started'),
    event(5, 'checkpoint', { step: 100, file: 'a' }),
    event(6, 'metrics', {}),
    event(9, 'checkpoint', { step: 250, file: 'b' }),
    event(12, 'checkpoint', { path: 'ckpt/3', step: 300, source: 'protocol' }),
  ]
  expect(checkpointsOf(loop, 0)).toEqual([
    { at: 5, start: 0, end: 100 },
    { at: 9, start: 100, end: 250 },
    { at: 12, start: 250, end: 300 },
  ])
  // Asked for what came after the page's last answer: the same commits a whole answer holds from there.
  expect(checkpointsOf(loop, 3)).toEqual([
    { at: 9, start: 100, end: 250 },
    { at: 12, start: 250, end: 300 },
  ])
})
