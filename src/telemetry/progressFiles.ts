import { randomBytes } from 'node:crypto'
import { renameSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { progressText } from './progressText.ts'
import type { ProgressSnapshot } from './snapshot.ts'

export const PROGRESS_JSON = 'progress.json'
export const PROGRESS_TXT = 'PROGRESS.txt'

/**
 * Replaces DIR/progress.json and DIR/PROGRESS.txt atomically (temp file and
 * rename: a reader sees the old file or the new one, never half of one).
 * Telemetry is best-effort: no fsync, and a failed write is counted and
 * reported, never fatal — commits are the durable part.
 */
export class ProgressFiles {
  failures = 0
  lastError: Error | undefined

  constructor(private readonly dir: string) {}

  /**
   * `mayWrite` is asked again just before each file is put in place: a process paused between the two files (or
   * while writing one) and woken after losing its run must not replace what the new owner wrote since.
   */
  write(snapshot: ProgressSnapshot, now: number, mayWrite: () => boolean = () => true): void {
    this.replace(PROGRESS_JSON, `${JSON.stringify(snapshot, null, 2)}\n`, mayWrite)
    this.replace(PROGRESS_TXT, progressText(snapshot, now), mayWrite)
  }

  private replace(name: string, text: string, mayWrite: () => boolean): void {
    const temp = join(this.dir, `.${name}.${randomBytes(4).toString('hex')}.tmp`)
    try {
      writeFileSync(temp, text)
      if (!mayWrite()) {
        rmSync(temp, { force: true })
        return
      }
      renameSync(temp, join(this.dir, name))
    } catch (error) {
      this.failures++
      this.lastError = error as Error
      rmSync(temp, { force: true })
    }
  }
}
