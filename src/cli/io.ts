/** Where a command writes; tests pass their own. */
export interface Io {
  out(text: string): void
  err(text: string): void
  /** The stream live progress is drawn on (a TTY gets a bar, anything else plain lines). */
  readonly errStream: NodeJS.WriteStream
  /** Whether `out` goes to a terminal (watch redraws in place there). */
  readonly outIsTTY: boolean
}

export const processIo: Io = {
  out: (text) => process.stdout.write(text.endsWith('\n') ? text : `${text}\n`),
  err: (text) => process.stderr.write(text.endsWith('\n') ? text : `${text}\n`),
  errStream: process.stderr,
  outIsTTY: process.stdout.isTTY === true,
}
