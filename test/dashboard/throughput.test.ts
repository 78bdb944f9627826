import { fc, test } from '@fast-check/vitest'
import { describe, expect } from 'vitest'

// The throughput chart's numbers (src/dashboard/static/throughput.js, a module of the page), against runs simulated
// exactly: K workers, each making items at the same steady pace, claiming ranges in order and committing each range
// as it ends, the ranges small at first and at the end as longhaul's range sizer makes them.

type Columns = [number[], (number | null | undefined)[], (number | null | undefined)[], (number | null | undefined)[]]
interface Throughput {
  chartColumns(
    commits: { t: number; n: number }[],
    sessions: { start: number; end: number | null; parallel: number }[],
    before?: number,
  ): Columns
  programColumns(lives: { start?: number; from?: number | null; samples: [number, number][] }[]): Columns
  sessionsOf(events: { type: string; at: number; detail: Record<string, unknown> }[]): {
    start: number
    end: number | null
    parallel: number
  }[]
}
const MODULE: string = '../../src/dashboard/static/throughput.js'
const { chartColumns, programColumns, sessionsOf } = (await import(MODULE)) as Throughput

/**
 * Commits of a session starting at `start` in which `workers` workers make `perSecond` items a second in all; and
 * until when every worker was busy (after that, the first to run out of ranges waits for the others: the run's true
 * rate falls, and so must the chart).
 */
function simulate(start: number, workers: number, perSecond: number, sizes: readonly number[]) {
  const free = Array.from({ length: workers }, () => start)
  const commits: { t: number; n: number }[] = []
  for (const n of sizes) {
    const w = free.indexOf(Math.min(...free))
    free[w]! += (n * workers * 1000) / perSecond
    commits.push({ t: free[w]!, n })
  }
  return { commits: commits.sort((a, b) => a.t - b.t), allBusyUntil: Math.min(...free) }
}

const ramp = (middle: readonly number[]) => [1, 1, 2, 4, 8, 16, ...middle, 8, 4, 2, 1, 1]
const numbers = (values: (number | null | undefined)[]) => values.filter((v): v is number => typeof v === 'number')

/** The smoothed rates drawn while every worker was busy. */
function steadyPart(columns: Columns, allBusyUntil: number): number[] {
  const [xs, smoothed] = columns
  return smoothed.flatMap((v, i) => (typeof v === 'number' && xs[i]! * 1000 <= allBusyUntil ? [v] : []))
}

describe('throughput chart', () => {
  test.prop([
    fc.integer({ min: 1, max: 6 }),
    fc.integer({ min: 5, max: 5_000 }),
    fc.array(fc.integer({ min: 20, max: 80 }), { minLength: 30, maxLength: 80 }),
  ])(
    'a steady run is drawn flat within ±10% while its workers are all busy, at any worker count, rate and range sizes',
    (workers, perSecond, middle) => {
      const sizes = ramp(middle.map((n) => Math.max(1, Math.round((n * perSecond) / 40))))
      const { commits, allBusyUntil } = simulate(1_000, workers, perSecond, sizes)
      const rates = steadyPart(chartColumns(commits, [{ start: 1_000, end: null, parallel: workers }]), allBusyUntil)
      expect(rates.length).toBeGreaterThan(10)
      for (const rate of rates) expect(Math.abs(rate / perSecond - 1)).toBeLessThanOrEqual(0.1)
    },
  )

  test('a steady run of two workers whose commits land in pairs: raw zigzags, smoothed does not; no spike at the end', () => {
    const { commits, allBusyUntil } = simulate(0, 2, 39, ramp(Array.from({ length: 40 }, (_, i) => (i % 2 ? 75 : 60))))
    const columns = chartColumns(commits, [{ start: 0, end: null, parallel: 2 }])
    // What the chart drew before: the rate from one commit to the next.
    expect(Math.max(...numbers(columns[2])) / 39).toBeGreaterThan(1.5)
    const rates = steadyPart(columns, allBusyUntil)
    expect(Math.max(...rates) / 39).toBeLessThan(1.1)
    expect(Math.min(...rates) / 39).toBeGreaterThan(0.9)
    // At the end, with the last small ranges: nothing above the pace the items were made at.
    expect(Math.max(...numbers(columns[1])) / 39).toBeLessThan(1.1)
  })

  test('the time between two sessions is a break in every line (a null), with no point inside it', () => {
    const first = simulate(0, 2, 40, ramp(Array(20).fill(40))).commits
    const resumedAt = first.at(-1)!.t + 60_000
    const second = simulate(resumedAt, 2, 40, ramp(Array(20).fill(40))).commits
    const sessions = sessionsOf([
      { type: 'started', at: 0, detail: { workers: 2 } },
      { type: 'interrupted', at: first.at(-1)!.t + 10, detail: {} },
      { type: 'resumed', at: resumedAt, detail: { workers: 2 } },
    ])
    const [xs, smoothed, raw, committed] = chartColumns([...first, ...second], sessions)
    const gaps = xs.flatMap((_, i) => (smoothed[i] === null ? [i] : []))
    expect(gaps).toHaveLength(1)
    const gap = gaps[0]!
    expect([raw[gap], committed[gap]]).toEqual([null, null])
    expect(xs[gap - 1]!).toBeLessThanOrEqual(first.at(-1)!.t / 1000 + 1e-9)
    expect(xs[gap + 1]!).toBeGreaterThanOrEqual(resumedAt / 1000 - 1e-9)
  })

  /** The rows of a program's columns at its reports (where the committed line has a point): `[s, committed]`. */
  const reported = ([xs, , , committed]: Columns) =>
    xs.flatMap((x, i) => (typeof committed[i] === 'number' ? [[x, committed[i]]] : []))

  test('exec-throughput: a life counts its work from where it started: reports 1..60 from 0 are 60 items, its first step drawn', () => {
    const samples = Array.from({ length: 60 }, (_, i): [number, number] => [1_000 * (i + 1), i + 1])
    const columns = programColumns([{ start: 0, from: 0, samples }])
    expect(reported(columns)).toEqual(samples.map(([t, done]) => [t / 1000, done]))
    // One item a second from the life's start, its first second included.
    const raw = numbers(columns[2])
    expect(raw).toHaveLength(60)
    for (const rate of [...raw, ...numbers(columns[1])]) expect(rate).toBeCloseTo(1, 6)
  })

  test('exec-throughput: a resumed life counts from the count its checkpoint recorded (450), not from 0 nor from its first report', () => {
    const samples = Array.from({ length: 10 }, (_, i): [number, number] => [5_000 + 1_000 * (i + 1), 451 + i])
    const columns = programColumns([{ start: 5_000, from: 450, samples }])
    expect(reported(columns)[0]).toEqual([6, 451])
    expect(numbers(columns[2])[0]).toBeCloseTo(1, 6)
  })

  test("exec-throughput: a life whose start count is unknown (a glob's checkpoint, an older journal) counts from its first report", () => {
    const samples = Array.from({ length: 10 }, (_, i): [number, number] => [1_000 * (i + 1), 451 + i])
    for (const life of [{ samples }, { start: 0, from: null, samples }]) {
      const columns = programColumns([life])
      expect(reported(columns)[0]).toEqual([2, 452])
      expect(numbers(columns[2])).toHaveLength(9)
    }
  })

  test("exec-throughput: a start count above the life's first report (the count went back) starts the life at that report", () => {
    const columns = programColumns([
      {
        start: 0,
        from: 500,
        samples: [
          [1_000, 451],
          [2_000, 452],
        ],
      },
    ])
    expect(reported(columns)).toEqual([
      [1, 451],
      [2, 452],
    ])
  })

  test.prop([
    fc.integer({ min: 1, max: 5_000 }),
    fc.array(fc.integer({ min: 500, max: 1_500 }), { minLength: 20, maxLength: 200 }),
    fc.integer({ min: 0, max: 1_000 }),
  ])(
    "exec-throughput: a program's steady pace, sampled at uneven intervals over two lives, is drawn flat within ±10% (and the rounding to whole items), its restart one break",
    (perSecond, intervals, resumedFrom) => {
      // Where a steady program says it is, sampled as its supervisor journals it (about once a progress interval).
      const life = (start: number, from: number) => {
        let t = start
        const samples: [number, number][] = [[t, from]]
        for (const ms of intervals) {
          t += ms
          samples.push([t, from + Math.floor(((t - start) * perSecond) / 1000)])
        }
        return { samples }
      }
      const first = life(1_000, 0)
      const second = life(first.samples.at(-1)![0] + 30_000, resumedFrom)
      const [xs, smoothed, , committed] = programColumns([first, second])
      const gaps = xs.flatMap((_, i) => (smoothed[i] === null ? [i] : []))
      expect(gaps).toHaveLength(1)
      // The committed line is where the program said it was: a restarted one resumes from its checkpoint.
      expect(numbers(committed).at(-1)).toBe(second.samples.at(-1)![1])
      const rates = numbers(smoothed)
      expect(rates.length).toBeGreaterThan(10)
      // A count in whole items is up to one item short at each sample: over a second, that is one item of the pace.
      const slack = 0.1 * perSecond + 2
      expect(Math.max(...rates)).toBeLessThanOrEqual(perSecond + slack)
      expect(Math.min(...rates)).toBeGreaterThanOrEqual(perSecond - slack)
    },
  )
})
