import { describe, expect, it } from 'vitest'
import { FACT_LIMITS, factsOf } from '../../src/dashboard/runFacts.ts'
import { sessionsOf } from '../../src/dashboard/runHistory.ts'
import type { RunEvent } from '../../src/journal/store.ts'

// What the run page is sent, from a journal's events: bounded to the newest of each, whatever the journal holds, and
// the processes of a shared run told from its joined/left/failed events.

const event = (at: number, type: string, detail: Record<string, unknown> = {}): RunEvent => ({ at, type, detail })

describe('run facts', () => {
  it("bounded: the newest log lines and errors are sent, the rest counted or left out; a metric's points thinned over the whole run", () => {
    const events: RunEvent[] = [event(0, 'started', { pid: 1, host: 'a' })]
    for (let i = 0; i < 1_000; i++) events.push(event(i + 1, 'log', { level: 'info', message: `line ${i}` }))
    for (let i = 0; i < 80; i++) events.push(event(2_000 + i, 'process-failed', { worker: `b:${i + 2}`, error: 'x' }))
    for (let i = 0; i < 30; i++) {
      const points = Array.from({ length: 100 }, (_, j) => [3_000 + i * 100 + j, i * 100 + j, j])
      const metrics = Object.fromEntries(Array.from({ length: 25 }, (_, m) => [`m${m}`, { value: 1, step: i, points }]))
      events.push(event(3_000 + i * 100, 'metrics', metrics))
    }
    const facts = factsOf(undefined, events)
    expect(facts.logs).toHaveLength(FACT_LIMITS.logs)
    expect(facts.logs.at(-1)?.message).toBe('line 999')
    expect(facts.logsLeftOut).toBe(1_000 - FACT_LIMITS.logs)
    expect(facts.failures).toHaveLength(FACT_LIMITS.failures)
    expect(Object.keys(facts.metrics)).toHaveLength(FACT_LIMITS.metrics)
    // 3,000 points of each: thinned evenly over the whole run, the newest kept.
    const points = facts.metrics.m0!
    expect(points.length).toBeLessThanOrEqual(FACT_LIMITS.points)
    expect(points.length).toBeGreaterThan(FACT_LIMITS.points / 2)
    expect(points.at(-1)).toEqual({ at: 3_000 + 29 * 100 + 99, step: 2_999, value: 99 })
    expect(points[0]!.step).toBeLessThan(10)
    expect(JSON.stringify(facts).length).toBeLessThan(600_000)
  })

  it("who is working: the owner of each session, each worker that joined until it left or failed, each program's life until it exited", () => {
    const facts = factsOf(undefined, [
      event(1, 'started', { pid: 10, host: 'a' }),
      event(2, 'joined', { pid: 20, worker: 'b:20' }),
      event(3, 'joined', { pid: 30, worker: 'c:30' }),
      event(4, 'left', { worker: 'b:20' }),
      event(5, 'process-failed', { worker: 'c:30', error: 'disk full' }),
      event(6, 'resumed', { pid: 11, host: 'a' }),
      event(7, 'program-started', { pid: 40, host: 'a', life: 1 }),
      event(8, 'program-exited', { pid: 40, code: null, signal: 'SIGKILL' }),
    ])
    expect(facts.processes.map((p) => [p.role, p.host, p.pid, p.ended])).toEqual([
      ['program', 'a', 40, 'killed by SIGKILL'],
      ['owner', 'a', 11, null],
      ['worker', 'c', 30, 'failed: disk full'],
      ['worker', 'b', 20, 'left'],
      ['owner', 'a', 10, 'gone'],
    ])
  })

  it("per-process work: a shared run's ranges go to the process whose claim they were committed under, a run on one machine's to the owner of the session, an older shared journal's to nobody", () => {
    const work = (events: RunEvent[]) =>
      factsOf(undefined, events).processes.map((p) => [p.role, p.pid, p.items, p.lastItem, p.lastAt, p.itemsPerSecond])
    const shared = [
      event(0, 'started', { pid: 10, host: 'a' }),
      event(100, 'joined', { pid: 20, worker: 'b:20' }),
      event(1_000, 'checkpoint', { start: 0, end: 10, worker: 'a:10' }),
      event(1_500, 'checkpoint', { start: 10, end: 30, worker: 'b:20' }),
      event(2_000, 'checkpoint', { start: 30, end: 40, worker: 'a:10' }),
      event(3_500, 'checkpoint', { start: 40, end: 60, worker: 'b:20' }),
    ]
    expect(work(shared)).toEqual([
      ['worker', 20, 40, 59, 3_500, 10],
      ['owner', 10, 20, 39, 2_000, 10],
    ])
    // Written before commits named their process: in a shared run, nobody can say whose they were.
    const older = shared.map((e) =>
      e.type === 'checkpoint' ? event(e.at, e.type, { ...e.detail, worker: undefined }) : e,
    )
    expect(work(older).map((w) => w[2])).toEqual([null, null])
    // One machine, two sessions: each owner's the ranges committed while it owned the run, whether or not named.
    expect(
      work([
        event(0, 'started', { pid: 10, host: 'a' }),
        event(1_000, 'checkpoint', { start: 0, end: 5, worker: 'local' }),
        event(2_000, 'checkpoint', { start: 5, end: 10 }),
        event(5_000, 'resumed', { pid: 11, host: 'a' }),
        event(6_000, 'checkpoint', { start: 10, end: 12, worker: 'local' }),
      ]),
    ).toEqual([
      ['owner', 11, 2, 11, 6_000, null],
      ['owner', 10, 10, 9, 2_000, 5],
    ])
    // A program's lives: how far each advanced, from its journaled progress.
    expect(
      work([
        event(0, 'started', { pid: 10, host: 'a' }),
        event(10, 'program-started', { pid: 40, host: 'a', life: 1 }),
        event(1_000, 'progress', { life: 1, done: 5, total: 100 }),
        event(3_000, 'progress', { life: 1, done: 25, total: 100 }),
        event(3_100, 'program-exited', { pid: 40, code: 1, signal: null }),
        event(4_000, 'program-started', { pid: 41, host: 'a', life: 2 }),
        event(5_000, 'progress', { life: 2, done: 21, total: 100 }),
      ])[1],
    ).toEqual(['program', 40, 20, 25, 3_000, 10])
  })

  it('history: a run works from each session start to its end or last event, the gaps between sessions left out', () => {
    const events = [
      event(0, 'started'),
      event(5_000, 'checkpoint'),
      // Killed: no end event; resumed an hour later.
      event(3_605_000, 'resumed'),
      event(3_615_000, 'complete'),
    ]
    expect(sessionsOf(events, null)).toEqual({ workingSeconds: 15, sessions: 2, endedAt: 3_615_000 })
    expect(sessionsOf(events.slice(0, 3), 3_606_000)).toEqual({ workingSeconds: 6, sessions: 2, endedAt: null })
  })
})
