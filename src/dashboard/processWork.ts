import { processOfClaimName, type RunEvent } from '../journal/store.ts'
import { programLives } from './programProgress.ts'

/** What one process got done, as the journal tells it; nulls where it does not. */
export interface ProcessWork {
  /** Items it committed (a program's life: how far it advanced, in its own items or steps). */
  readonly items: number | null
  /** The last item it finished (the last of its newest committed range; a program: where it last said it was), and when. */
  readonly lastItem: number | null
  readonly lastAt: number | null
  /** Its pace: items after its first commit (or report) over the time from it to its last. */
  readonly itemsPerSecond: number | null
}

interface Named {
  readonly role: 'owner' | 'worker' | 'program'
  readonly host: string | null
  readonly pid: number | null
  readonly since: number
}

const NONE: ProcessWork = { items: null, lastItem: null, lastAt: null, itemsPerSecond: null }

/**
 * Each process's work, `processes` oldest first. A committed range goes to
 * the process whose claim it was (the `worker` its checkpoint event names,
 * `host:pid` in a shared run); on one machine (`local`), and in a journal
 * older than that field when no process ever joined, to the owner whose
 * session it was committed in (one owner at a time, fenced). Ranges of a
 * shared run's older journal name nobody and go to no one. A program's life
 * counts from its `progress` events, from the count it started at when that is known.
 */
export function workOf(processes: readonly Named[], events: readonly RunEvent[]): ProcessWork[] {
  const shared = events.some((e) => e.type === 'joined')
  const tally = processes.map(() => ({
    items: 0,
    commits: 0,
    first: null as null | { at: number; n: number },
    last: null as null | { at: number; item: number },
  }))
  const ownerAt = (at: number) => processes.findLastIndex((p) => p.role === 'owner' && p.since <= at)
  for (const e of events) {
    const { start, end, worker } = e.detail
    if (e.type !== 'checkpoint' || typeof start !== 'number' || typeof end !== 'number' || end <= start) continue
    const named = typeof worker === 'string' ? processOfClaimName(worker) : undefined
    const k = named
      ? processes.findLastIndex(
          (p) => p.role !== 'program' && p.host === named.host && p.pid === named.pid && p.since <= e.at,
        )
      : typeof worker === 'string' || !shared
        ? ownerAt(e.at)
        : -1
    const t = tally[k]
    if (!t) continue
    t.items += end - start
    t.commits++
    t.first ??= { at: e.at, n: end - start }
    t.last = { at: e.at, item: end - 1 }
  }
  const lives = programLives(events)
  return processes.map((p, k) => {
    if (p.role === 'program') {
      const life = lives.find((l) => l.start === p.since && l.pid === p.pid)
      const first = life?.samples[0]
      const last = life?.samples.at(-1)
      if (!life || !first || !last) return NONE
      // Counted from where the life started when its supervisor knew it (as the throughput chart counts it), else
      // from its first report; never from above that report.
      const from = life.from !== null && life.from <= first[1] ? life.from : first[1]
      return {
        items: last[1] - from,
        lastItem: last[1],
        lastAt: last[0],
        itemsPerSecond: last[0] > first[0] ? ((last[1] - first[1]) * 1000) / (last[0] - first[0]) : null,
      }
    }
    const t = tally[k]!
    if (!t.last || !t.first) return NONE
    return {
      items: t.items,
      lastItem: t.last.item,
      lastAt: t.last.at,
      itemsPerSecond:
        t.commits >= 2 && t.last.at > t.first.at ? ((t.items - t.first.n) * 1000) / (t.last.at - t.first.at) : null,
    }
  })
}
