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
}

/**
 * A file modified this recently before the moment of judging (now, or the
 * program's death) may still be being written: a killed writer leaves a
 * truncated file with a fresh mtime. A program that writes atomically and
 * says so through the protocol is believed at once.
 */
export const SETTLE_MS = 2_000

/**
 * Finds the checkpoint to resume from: the last one the program announced
 * through the protocol (it wins over the glob: the program knows the file is
 * durable), or else the newest file matching the glob that had settled —
 * unchanged for SETTLE_MS before the moment judged. A file that no longer
 * exists is never returned.
 */
export class CheckpointFinder {
  private announced: FoundCheckpoint | undefined

  constructor(
    private readonly pattern: string | undefined,
    private readonly cwd: string,
  ) {}

  /** The program announced a durable checkpoint (protocol event). */
  announce(path: string, step: number | null): FoundCheckpoint | undefined {
    const absolute = isAbsolute(path) ? path : resolve(this.cwd, path)
    const mtimeMs = mtimeOf(absolute)
    if (mtimeMs === undefined) return undefined
    this.announced = { path: absolute, step, source: 'protocol', mtimeMs }
    return this.announced
  }

  /** The checkpoint to resume from, judged at `at` (the program's death, or now while it lives). */
  newest(at: number): FoundCheckpoint | undefined {
    if (this.announced && mtimeOf(this.announced.path) !== undefined) return this.announced
    return this.newestSettled(at)
  }

  private newestSettled(at: number): FoundCheckpoint | undefined {
    if (!this.pattern) return undefined
    let best: FoundCheckpoint | undefined
    for (const path of globSync(this.pattern, { cwd: this.cwd, absolute: true, onlyFiles: true, dot: true })) {
      const mtimeMs = mtimeOf(path)
      if (mtimeMs === undefined || mtimeMs > at - SETTLE_MS) continue
      if (!best || mtimeMs > best.mtimeMs || (mtimeMs === best.mtimeMs && path > best.path)) best = { path, step: null, source: 'glob', mtimeMs }
    }
    return best
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
