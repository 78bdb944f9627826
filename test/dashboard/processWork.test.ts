import { describe, expect, it } from 'vitest'
import { workOf } from '../../src/dashboard/processWork.ts'
import type { RunEvent } from '../../src/journal/store.ts'

// Who is working (the run page's workers section): a supervised program's life counts the steps it reported from the
// count it started at, as the throughput chart counts them, so both say the same of the same life.

const event = (at: number, type: string, detail: Record<string, unknown> = {}): RunEvent => ({ at, type, detail })
const program = (since: number, pid: number) => ({ role: 'program' as const, host: 'h', pid, since })

/** A life started at `at` (pid), journaling `from` when given, then reporting `done` once a second. */
function life(at: number, pid: number, from: number | undefined, done: number[]): RunEvent[] {
  const started = event(at, 'program-started', { life: 1, pid, ...(from === undefined ? {} : { from }) })
  return [started, ...done.map((n, i) => event(at + 1_000 * (i + 1), 'progress', { done: n }))]
}

describe("a program's work", () => {
  it('process-work-from-start: a life reporting 1..60 from 0 did 60 steps, not 59; a resumed one counts from where it started', () => {
    const steps = Array.from({ length: 60 }, (_, i) => i + 1)
    const fresh = life(0, 7, 0, steps)
    const resumed = life(100_000, 8, 450, [451, 452, 453])
    const [first, second] = workOf([program(0, 7), program(100_000, 8)], [...fresh, ...resumed])
    expect(first?.items).toBe(60)
    expect(first?.lastItem).toBe(60)
    expect(second?.items).toBe(3)
  })

  it('process-work-unknown-start: a life whose start was not journaled counts from its first report, and never from above it', () => {
    const [unknown, above] = workOf(
      [program(0, 7), program(100_000, 8)],
      [...life(0, 7, undefined, [10, 20, 30]), ...life(100_000, 8, 500, [40, 50])],
    )
    expect(unknown?.items).toBe(20)
    expect(above?.items).toBe(10)
  })
})
