import { randomBytes } from 'node:crypto'
import { renameSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'

/** The file in a run's .longhaul folder holding the last lines of the program's life running now. */
export const LIVE_OUTPUT = 'output-tail.json'

/** What the file holds. */
export interface LiveOutputFile {
  readonly life: number
  readonly pid: number
  /** When it was written, ms since the epoch. */
  readonly at: number
  /** The newest lines (OutputTail's: at most 50 of at most 400 characters), oldest first. */
  readonly lines: readonly string[]
}

/**
 * The last lines of the running program, kept where a reader of the run
 * folder (the dashboard) finds them while the program runs: rewritten whole
 * (a temporary file renamed into place) when they changed, at most as often
 * as it is called (the run's tick, about a second), and removed when the
 * life ends, whose `program-exited` event carries its last lines instead.
 * A view of the run, not its record: a write that fails is tried again at
 * the next tick and never stops the run.
 */
export class LiveOutput {
  private shown = ''

  constructor(private readonly dir: string) {}

  keep(life: number, pid: number, lines: readonly string[], now: number): void {
    const text = JSON.stringify(lines)
    if (text === this.shown) return
    const temp = join(this.dir, `.${LIVE_OUTPUT}.${randomBytes(4).toString('hex')}.tmp`)
    try {
      writeFileSync(temp, `${JSON.stringify({ life, pid, at: now, lines } satisfies LiveOutputFile)}\n`)
      renameSync(temp, join(this.dir, LIVE_OUTPUT))
      this.shown = text
    } catch {
      rmSync(temp, { force: true })
    }
  }

  /** The life ended: its lines are in the journal now. */
  remove(): void {
    this.shown = ''
    rmSync(join(this.dir, LIVE_OUTPUT), { force: true })
  }
}
