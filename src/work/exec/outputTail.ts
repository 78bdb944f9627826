/** Lines of a program's output kept for its `program-exited` event, the newest. */
const MAX_LINES = 50
/** A kept line's length at most; the rest of a longer line is cut. */
const MAX_LINE = 400

/**
 * The last lines of what a supervised program wrote on stdout and stderr, as
 * it wrote them (both interleaved), bounded: so the journal, and the run's
 * page, can show why a life ended. A line redrawn with `\r` (a progress bar)
 * counts as what it last showed; control characters (colours) are dropped.
 */
export class OutputTail {
  private readonly lines: string[] = []
  private current = ''

  push(chunk: Buffer): void {
    const text = chunk.toString('utf8')
    let from = 0
    for (let i = 0; i < text.length; i++) {
      const c = text[i]
      if (c !== '\n' && c !== '\r') continue
      this.add(text.slice(from, i))
      if (c === '\n') this.endLine()
      else this.current = ''
      from = i + 1
    }
    this.add(text.slice(from))
  }

  /** The kept lines, oldest first, with the unfinished one when it has anything. */
  tail(): string[] {
    return this.current.trim() ? [...this.lines, this.current] : [...this.lines]
  }

  private add(piece: string): void {
    if (this.current.length >= MAX_LINE) return
    this.current = (this.current + piece.replace(/\x1b\[[0-9;?]*[A-Za-z]|[\x00-\x08\x0b-\x1f\x7f]/g, '')).slice(
      0,
      MAX_LINE,
    )
  }

  private endLine(): void {
    this.lines.push(this.current)
    this.current = ''
    if (this.lines.length > MAX_LINES) this.lines.shift()
  }
}
