import { join, resolve } from 'node:path'
import { assertInside, readRegularFile } from '../files/regularFile.ts'
import { runPaths } from '../files/runPaths.ts'
import { openRunJournal } from '../journal/runJournal.ts'
import type { RunEvent } from '../journal/store.ts'
import { LIVE_OUTPUT } from '../work/exec/liveOutput.ts'
import type { RunItem } from './runs.ts'
import { thinned } from './thin.ts'

/** Progress samples a run's page is sent, at most, over all lives: each life's thinned evenly over its whole length. */
const MAX_SAMPLES = 2_000
/** Lives sent, the newest. */
const MAX_LIVES = 50

/** One life of a supervised program and where it said it was over it (`progress` events): `[at, done]`, oldest first. */
export interface ProgramLife {
  readonly life: number | null
  readonly pid: number | null
  readonly start: number
  readonly end: number | null
  /** The count the life started from (`program-started`'s `from`); null when its supervisor did not know it, or an older one did not say. */
  readonly from: number | null
  readonly samples: readonly (readonly [number, number])[]
}

/**
 * The lives of a supervised program, each with its progress samples, from
 * the journal's events in the order they were written: a sample belongs to
 * the life last started before it (a life is journaled before it runs).
 * Journals written before programs' progress was journaled have lives
 * without samples.
 */
export function programLives(events: readonly RunEvent[]): ProgramLife[] {
  const lives: {
    life: number | null
    pid: number | null
    start: number
    end: number | null
    from: number | null
    samples: [number, number][]
  }[] = []
  for (const e of events) {
    const d = e.detail
    if (e.type === 'program-started')
      lives.push({ life: num(d.life), pid: num(d.pid), start: e.at, end: null, from: num(d.from), samples: [] })
    else if (e.type === 'program-exited') {
      const life = lives.findLast((l) => l.pid === num(d.pid) && l.end === null)
      if (life) life.end = e.at
    } else if (e.type === 'progress' && num(d.done) !== null) lives.at(-1)?.samples.push([e.at, num(d.done)!])
  }
  const kept = lives.slice(-MAX_LIVES)
  const all = kept.reduce((sum, l) => sum + l.samples.length, 0)
  if (all <= MAX_SAMPLES) return kept
  return kept.map((l) => ({
    ...l,
    samples: thinned(l.samples, Math.max(2, Math.floor((MAX_SAMPLES * l.samples.length) / all))),
  }))
}

const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null)

/** A supervised program's lives and progress, read from the run's journal (read-only); none when it has no journal. */
export async function programLivesOf(root: string, item: RunItem): Promise<ProgramLife[]> {
  const journal = await openRunJournal(join(resolve(root), item.dir), { connectTimeoutMs: 5_000 })
  if (!journal) return []
  try {
    return programLives(await journal.store.events())
  } finally {
    await journal.store.close()
  }
}

/** The last lines of the program running now, as its supervisor keeps them (work/exec/liveOutput.ts). */
export interface LiveOutputShown {
  readonly life: number | null
  readonly pid: number | null
  readonly at: number | null
  readonly lines: readonly string[]
  /** The run is live: these are the lines of the program running now. Else they are the last seen before its supervisor stopped without a word (killed): no life ended to say more. */
  readonly running: boolean
}

/** What the run folder's live output file says, bounded (50 lines of 400 characters); null when there is none (no life is running) or it cannot be read. */
export function liveOutputOf(root: string, item: RunItem): LiveOutputShown | null {
  const path = join(runPaths(join(resolve(root), item.dir)).internal, LIVE_OUTPUT)
  let parsed: Record<string, unknown>
  try {
    assertInside(root, path)
    parsed = JSON.parse(readRegularFile(path).toString('utf8')) as Record<string, unknown>
  } catch {
    return null
  }
  const lines = Array.isArray(parsed?.lines) ? parsed.lines.filter((l): l is string => typeof l === 'string') : []
  return {
    life: num(parsed.life),
    pid: num(parsed.pid),
    at: num(parsed.at),
    lines: lines.slice(-50).map((l) => l.slice(0, 400)),
    running: item.live,
  }
}
