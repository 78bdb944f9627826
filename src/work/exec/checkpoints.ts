import { statSync } from 'node:fs'
import { isAbsolute, resolve } from 'node:path'
import { globSync } from 'tinyglobby'

/** A checkpoint a restarted program can resume from. */
export interface FoundCheckpoint {
  readonly path: string
  readonly step: number | null
  /** The program said so (protocol event), or the glob found it. */
  readonly source: 'protocol' | 'glob'
  readonly mtimeMs: number
  /**
   * Where the program said it was (`done`) when it announced this checkpoint: the count a life resumed from it starts
   * at (the journal's checkpoint event records it, for the next session). Null when that is not known: a file the glob
   * found (when it was written is all that is known), or an announcement journaled before the event recorded it.
   */
  readonly done: number | null
}

/**
 * The newest file, when it was modified this recently before the moment of
 * judging (now, or the program's death), may still be being written: a
 * killed writer leaves a truncated file with a fresh mtime. Only the newest
 * can be (a program writes one checkpoint at a time), so the one before it is
 * taken. A program that writes atomically and says so through the protocol
 * is believed at once.
 */
export const SETTLE_MS = 2_000

/**
 * Finds the checkpoint to resume from: the last one the program announced
 * through the protocol (it wins over the glob: the program knows the file is
 * durable), or else the newest file matching the glob, unless it was still
 * changing SETTLE_MS before the moment judged (then the one before it). Files
 * older than the run (`notBefore`: another experiment's, or the run moved
 * aside by --fresh) are never taken, nor is a file that no longer exists.
 */
export class CheckpointFinder {
  private announced: FoundCheckpoint | undefined

  constructor(
    private readonly pattern: string | undefined,
    private readonly cwd: string,
    /** When the run began, ms: files last modified before it belong to something else. */
    private readonly notBefore = 0,
  ) {}

  /** The program announced a durable checkpoint (protocol event), having said it was at `done`, if known. */
  announce(path: string, step: number | null, done: number | null = null): FoundCheckpoint | undefined {
    const absolute = isAbsolute(path) ? path : resolve(this.cwd, path)
    const mtimeMs = mtimeOf(absolute)
    if (mtimeMs === undefined) return undefined
    this.announced = { path: absolute, step, source: 'protocol', mtimeMs, done }
    return this.announced
  }

  /** The checkpoint to resume from, judged at `at` (the program's death, or now while it lives). */
  newest(at: number): FoundCheckpoint | undefined {
    if (this.announced && mtimeOf(this.announced.path) !== undefined) return this.announced
    return this.newestSettled(at)
  }

  private newestSettled(at: number): FoundCheckpoint | undefined {
    if (!this.pattern) return undefined
    const found: FoundCheckpoint[] = []
    for (const path of globSync(this.pattern, { cwd: this.cwd, absolute: true, onlyFiles: true, dot: true })) {
      const mtimeMs = mtimeOf(path)
      if (mtimeMs !== undefined && mtimeMs >= this.notBefore && mtimeMs <= at)
        found.push({ path, step: null, source: 'glob', mtimeMs, done: null })
    }
    found.sort((a, b) => b.mtimeMs - a.mtimeMs || (b.path > a.path ? 1 : -1))
    return found[0] && found[0].mtimeMs > at - SETTLE_MS ? found[1] : found[0]
  }
}

function mtimeOf(path: string): number | undefined {
  try {
    const stat = statSync(path)
    return stat.isFile() ? stat.mtimeMs : undefined
  } catch {
    return undefined
  }
}
