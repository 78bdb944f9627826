import { z } from 'zod'

/**
 * The JSON-lines protocol a supervised program may speak: it finds
 * `LONGHAUL_EVENTS` in its environment (a file descriptor number) and writes
 * one JSON object per line to it, once that fd is proved to be the channel:
 * a FIFO whose `device:inode` is `LONGHAUL_EVENTS_ID` (a subprocess inherits
 * the environment, not the fd, and must not write into whatever it has there). Every field but `type` is optional except
 * where a line would mean nothing without it. A line that is not one of
 * these is malformed: counted, never fatal.
 *
 *     {"type":"progress","done":450,"total":1000,"unit":"epoch"}
 *     {"type":"checkpoint","path":"ckpt/epoch-12.npz","step":12}
 *     {"type":"metric","name":"loss","value":0.42,"step":12}
 *     {"type":"log","level":"info","message":"warming up"}
 */
export const EVENTS_ENV = 'LONGHAUL_EVENTS'
/** The checkpoint a restarted program should resume from (also substituted into --resume-arg). */
export const RESUME_ENV = 'LONGHAUL_RESUME_FROM'
/** The file descriptor the protocol is read from in the child. */
export const EVENTS_FD = 3
/** The channel's identity, `device:inode` of the FIFO on EVENTS_FD: a writer checks it (fstat) before writing. */
export const EVENTS_ID_ENV = 'LONGHAUL_EVENTS_ID'

const count = z.number().nonnegative().max(Number.MAX_SAFE_INTEGER)
const step = z
  .number()
  .finite()
  .nullish()
  .transform((v) => v ?? null)
/** Printed in PROGRESS.txt and on the terminal: no control characters (a newline would forge a line, an escape the terminal). */
const printable = (max: number) =>
  z
    .string()
    .max(max)
    .regex(/^[^\p{Cc}]*$/u, 'control characters')

const eventSchema = z.discriminatedUnion('type', [
  z
    .object({
      type: z.literal('progress'),
      done: count,
      total: count
        .positive()
        .nullish()
        .transform((v) => v ?? null),
      unit: printable(40).min(1).optional(),
    })
    .refine((e) => e.total === null || e.done <= e.total, 'done is more than total'),
  z.object({ type: z.literal('checkpoint'), path: z.string().min(1).max(4_096), step }),
  z.object({ type: z.literal('metric'), name: z.string().min(1).max(200), value: z.number().nullable(), step }),
  z.object({ type: z.literal('log'), level: z.string().max(20).default('info'), message: z.string().max(10_000) }),
])

export type ExecEvent = z.infer<typeof eventSchema>

/** Lines longer than this are malformed (a protocol line is short; a runaway write must not grow memory). */
export const MAX_EVENT_LINE = 64 * 1024

/** One protocol line read; undefined when it is malformed. */
export function parseEventLine(line: string): ExecEvent | undefined {
  const text = line.trim()
  if (text === '' || text.length > MAX_EVENT_LINE || text[0] !== '{') return undefined
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch {
    return undefined
  }
  const parsed = eventSchema.safeParse(value)
  return parsed.success ? parsed.data : undefined
}

/**
 * Splits a byte stream into lines and parses each one. Blank lines are
 * skipped; a line over MAX_EVENT_LINE is dropped as it arrives (counted as
 * malformed) rather than buffered.
 */
export class EventLineReader {
  malformed = 0
  private pending = ''
  private overlong = false

  constructor(private readonly onEvent: (event: ExecEvent) => void) {}

  push(chunk: string): void {
    const parts = (this.pending + chunk).split('\n')
    this.pending = parts.pop()!
    for (const line of parts) this.line(line)
    if (this.pending.length > MAX_EVENT_LINE) {
      this.pending = ''
      this.overlong = true
    }
  }

  end(): void {
    if (this.pending !== '' || this.overlong) this.line(this.pending)
    this.pending = ''
  }

  private line(line: string): void {
    if (this.overlong) {
      this.overlong = false
      this.malformed++
      return
    }
    if (line.trim() === '') return
    const event = parseEventLine(line)
    if (event) this.onEvent(event)
    else this.malformed++
  }
}
