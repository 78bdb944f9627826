import { spawn } from 'node:child_process'
import { constants } from 'node:os'
import type { Writable } from 'node:stream'
import { UsageError } from '../../errors.ts'
import type { EventsChannel } from './channel.ts'
import { OutputTail } from './outputTail.ts'
import { startTimeOf } from './processes.ts'
import { EVENTS_ENV, EVENTS_FD, EVENTS_ID_ENV, EventLineReader, type ExecEvent } from './protocol.ts'
import { TqdmParser, type TqdmProgress } from './tqdm.ts'

export interface ProgramSpec {
  readonly command: string
  readonly args: readonly string[]
  readonly cwd: string
  readonly env: NodeJS.ProcessEnv
  /** Where the program's own output is copied to, as it comes. */
  readonly stdout: Writable
  readonly stderr: Writable
  readonly onEvent: (event: ExecEvent) => void
  readonly onBar: (bar: TqdmProgress) => void
  /** The protocol's channel for this life (openEventsChannel): the program's fd 3; it is closed when the program ends. */
  readonly channel: EventsChannel
}

export interface ProgramExit {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
  /** The exit code a shell would show: the code, or 128 + the signal's number. */
  readonly exitCode: number
  readonly at: number
}

/** One life of a supervised program. */
export interface RunningProgram {
  readonly pid: number
  /** When the process started, as /proc/PID/stat says (clock ticks since boot); with the pid it names this process alone. Null off Linux. */
  readonly startTime: string | null
  /**
   * The program is held at its gate until this is called: with `true` it runs, with `false` it exits (code 125) without
   * ever running. Until then nothing of it has run, so its pid can be recorded before it does any work.
   */
  release(go: boolean): void
  readonly exited: Promise<ProgramExit>
  /** Sends a signal to the program and everything it started (its process group). */
  send(signal: NodeJS.Signals): void
  /** Whether anything of its process group still runs (the program, or what it started). */
  groupAlive(): boolean
  /**
   * Ends the line the program's output is in the middle of (a tqdm bar redrawn with `\r`), so that a line of longhaul's
   * own starts on a line of its own: on the stderr copy, where longhaul's lines go too, and on a stdout that is a
   * terminal. A stdout going to a file or a pipe is the program's data and gets not one byte of longhaul's.
   */
  breakLine(): void
  /** Lines that were not understood: protocol lines, and bar-like lines that could not be read. */
  malformed(): { protocol: number; bars: number }
  /** The last lines it wrote on stdout and stderr (see OutputTail). */
  outputTail(): string[]
}

/** How long output still in the pipes is read after the program exits (its own children may hold them open). */
const DRAIN_MS = 1_000

/**
 * The gate: a shell that waits for one line on fd 4, then replaces itself with the program (same pid, same start time,
 * same process group). If the line never comes (the supervisor died first), it exits without running the program.
 */
const GATE = 'IFS= read -r go <&4 && [ "$go" = go ] || exit 125; exec 4<&-; exec "$@"'
const GATE_FD = 4

/**
 * Starts the program in its own process group, held at its gate (see
 * `release`), with the protocol's channel on fd 3 (LONGHAUL_EVENTS=3, its
 * identity in LONGHAUL_EVENTS_ID), stdin inherited, stdout and stderr copied
 * through while tqdm bars are read from both. Rejects with a UsageError when
 * the program cannot be started at all.
 */
export async function startProgram(spec: ProgramSpec, now: () => number): Promise<RunningProgram> {
  const { channel } = spec
  const child = spawn('/bin/sh', ['-c', GATE, 'longhaul-exec', spec.command, ...spec.args], {
    cwd: spec.cwd,
    env: { ...spec.env, [EVENTS_ENV]: String(EVENTS_FD), [EVENTS_ID_ENV]: channel.id },
    stdio: ['inherit', 'pipe', 'pipe', channel.writeFd, 'pipe'],
    // Its own process group: a Ctrl-C in the terminal reaches longhaul alone, which forwards it once.
    detached: true,
  })
  try {
    await new Promise<void>((resolve, reject) => {
      child.once('spawn', resolve)
      child.once('error', (error: NodeJS.ErrnoException) =>
        reject(new UsageError(`cannot start '${spec.command}': ${error.message}`, 'LONGHAUL_EXEC_FAILED')),
      )
    })
  } catch (error) {
    channel.discard()
    throw error
  } finally {
    // The program holds its own copy: the channel ends when it and whatever inherited fd 3 from it have closed it.
    channel.closeWriteEnd()
  }
  const pid = child.pid!
  const gate = child.stdio[GATE_FD] as Writable
  gate.on('error', () => undefined)
  const events = new EventLineReader(spec.onEvent)
  const bars = [new TqdmParser(spec.onBar), new TqdmParser(spec.onBar)] as const
  const protocol = channel.reader
  protocol.setEncoding('utf8')
  protocol.on('data', (chunk: string) => events.push(chunk))
  protocol.on('end', () => events.end())
  const cleanups: (() => void)[] = []
  const midLine = new Map<Writable, boolean>()
  const tail = new OutputTail()
  for (const [stream, copy, parser, sharedWithOurs] of [
    [child.stdout!, spec.stdout, bars[0], (spec.stdout as { isTTY?: boolean }).isTTY === true],
    [child.stderr!, spec.stderr, bars[1], true],
  ] as const) {
    // Our own output gone (`| head`, a closed terminal): the copy stops, the program's output is still read (for its
    // progress) and supervision goes on.
    let copying = true
    const stopCopying = (): void => {
      copying = false
      stream.resume()
    }
    copy.on('error', stopCopying)
    cleanups.push(() => copy.off('error', stopCopying))
    stream.on('data', (chunk: Buffer) => {
      parser.push(chunk)
      tail.push(chunk)
      // Back-pressure: while our own output is not read (a slow terminal, a stopped pager), the program waits on its pipe
      // rather than its output piling up in longhaul's memory.
      if (chunk.length > 0 && sharedWithOurs) midLine.set(copy, chunk[chunk.length - 1] !== 0x0a)
      if (copying && !copy.write(chunk)) {
        stream.pause()
        copy.once('drain', () => stream.resume())
      }
    })
    stream.on('end', () => parser.end())
  }
  // Pipe errors (the program closed fd 3 early) are not the supervisor's failure.
  for (const stream of [protocol, child.stdout!, child.stderr!]) stream.on('error', () => undefined)

  const exited = new Promise<ProgramExit>((resolve) => {
    child.once('exit', (code, signal) => {
      const at = now()
      const result: ProgramExit = {
        code,
        signal,
        exitCode: code ?? 128 + (signal ? (constants.signals[signal] ?? 0) : 0),
        at,
      }
      // What is still in the pipes is read first; a grandchild holding them open is not waited for.
      const drained = Promise.all([
        new Promise<void>((done) => child.once('close', () => done())),
        new Promise<void>((done) => (protocol.closed ? done() : protocol.once('close', () => done()))),
      ])
      const timer = new Promise<void>((done) => setTimeout(done, DRAIN_MS).unref())
      void Promise.race([drained, timer]).then(() => {
        for (const stream of [protocol, child.stdout!, child.stderr!]) stream.destroy()
        for (const cleanup of cleanups) cleanup()
        resolve(result)
      })
    })
  })
  return {
    pid,
    startTime: startTimeOf(pid),
    exited,
    release(go) {
      if (go) gate.end('go\n')
      else gate.end()
    },
    send(signal) {
      try {
        process.kill(-pid, signal)
      } catch {
        // The group is gone already.
      }
    },
    groupAlive() {
      try {
        process.kill(-pid, 0)
        return true
      } catch (error) {
        return (error as NodeJS.ErrnoException).code === 'EPERM'
      }
    },
    breakLine() {
      for (const [copy, mid] of midLine) {
        if (!mid) continue
        midLine.set(copy, false)
        copy.write('\n')
      }
    },
    malformed: () => ({ protocol: events.malformed, bars: bars[0].malformed + bars[1].malformed }),
    outputTail: () => tail.tail(),
  }
}

/**
 * The arguments a restarted program gets for its checkpoint: the template
 * split on spaces, `{checkpoint}` replaced inside each word (so a path with
 * spaces stays one argument).
 */
export function resumeArgs(template: string, checkpoint: string): string[] {
  return template
    .split(/\s+/)
    .filter(Boolean)
    .map((word) => word.replaceAll('{checkpoint}', checkpoint))
}
