import { createHash } from 'node:crypto'
import { existsSync, mkdirSync, readFileSync, statSync } from 'node:fs'
import { isAbsolute, join, resolve } from 'node:path'
import { Writable } from 'node:stream'
import { globSync } from 'tinyglobby'
import { superviseProgram } from '../work/exec/supervise.ts'
import type { CommitPoint } from './estimates.ts'

/** The program a `preflight --exec` proves, as `exec` would run it. */
export interface ExecProgram {
  readonly command: string
  readonly args: readonly string[]
  /** Where relative paths in the arguments are read from. */
  readonly cwd: string
  readonly resumeArg?: string
  readonly checkpoints?: string
  /** The files whose bytes must not depend on crashes: relative to the program's working folder, or absolute. */
  readonly outputs: string
  readonly total?: number
}

/** One output file of a run. */
export interface OutputFile {
  /** Relative to the run's working folder, or absolute when --outputs is. */
  readonly path: string
  readonly sha256: string
  readonly bytes: number
}

/** What one supervised run showed. */
export interface ExecRunEvidence {
  readonly state: 'complete' | 'failed' | 'interrupted'
  readonly error: string | null
  readonly lives: number
  /** SIGKILLs that landed on a living program. */
  readonly kills: number
  readonly durationMs: number
  /** The files matching --outputs, sorted, with their sha256 and size. */
  readonly outputs: readonly OutputFile[]
  /** When the program reported a new checkpoint (a protocol event), ms after the run began. */
  readonly checkpointsAtMs: readonly number[]
  /** When a file matching --checkpoints appeared or changed (its mtime), ms after the run began; empty without --checkpoints. */
  readonly checkpointFilesAtMs?: readonly number[]
  /** When its reported progress moved, ms after the run began. */
  readonly progressAtMs: readonly number[]
  /** Its progress over time (ms after the run began, the count it reported): the rehearsal's pace. */
  readonly timeline?: readonly CommitPoint[]
  /** The total its progress reported (its own count), else exec's. */
  readonly reportedTotal?: number | null
  /** The end of its output, for a failure's message. */
  readonly tail: string
}

/** Which moments of a life start a kill's delay: its checkpoint events, its new checkpoint files, or its first progress. */
export type KillMoment = 'events' | 'files' | 'progress'

export interface Killer {
  readonly kills: number
  readonly on: KillMoment
  /** Which checkpoint of a life starts the kill's delay (with `progress`: its first progress does). */
  readonly atCheckpoint: () => number
  readonly delayMs: () => number
}

/** How often the --checkpoints glob is looked at for new or changed files, ms. */
const FILE_POLL_MS = 100

/**
 * Runs the program once under exec's supervisor in `dir`/work (its working
 * folder), restarted by exec's own path (--checkpoints, --resume-arg) after
 * each of the killer's SIGKILLs; records what it reported and when, and the
 * outputs it left.
 */
export async function supervisedRun(
  program: ExecProgram,
  dir: string,
  signal: AbortSignal | undefined,
  killer?: Killer,
): Promise<ExecRunEvidence> {
  const cwd = join(dir, 'work')
  mkdirSync(cwd, { recursive: true })
  const started = Date.now()
  const checkpointsAtMs: number[] = []
  const progressAtMs: number[] = []
  const timeline: CommitPoint[] = []
  let reportedTotal: number | null = null
  let tail = ''
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      tail = (tail + chunk.toString()).slice(-2_000)
      callback()
    },
  })
  let kills = 0
  let timer: NodeJS.Timeout | undefined
  let armed: number | undefined
  let lifeCheckpoints = 0
  let killAt = 1
  let lastDone = -1
  const arm = (): void => {
    if (armed === undefined || !killer) return
    const pid = armed
    armed = undefined
    timer = setTimeout(() => {
      try {
        process.kill(pid, 'SIGKILL')
        kills++
      } catch {
        // It had ended already.
      }
    }, killer.delayMs())
  }
  const checkpointed = (on: KillMoment): void => {
    if (killer?.on !== on) return
    lifeCheckpoints++
    if (lifeCheckpoints >= killAt) arm()
  }
  const files = program.checkpoints === undefined ? undefined : new FileWatch(program.checkpoints, cwd, started)
  const poller = files && setInterval(() => files.look() && checkpointed('files'), FILE_POLL_MS)
  try {
    const result = await superviseProgram({
      command: absoluteIfExists(program.command, program.cwd),
      args: program.args.map((arg) => absoluteIfExists(arg, program.cwd)),
      outDir: join(dir, 'exec'),
      cwd,
      restarts: killer?.kills ?? 0,
      restartDelayMs: 50,
      progressEveryMs: 200,
      heartbeatMs: 1_000,
      ...(program.checkpoints !== undefined && { checkpoints: program.checkpoints }),
      ...(program.resumeArg !== undefined && { resumeArg: program.resumeArg }),
      ...(program.total !== undefined && { total: program.total }),
      ...(signal && { signal }),
      stdout: sink,
      stderr: sink,
      observer: {
        started(pid) {
          clearTimeout(timer)
          timer = undefined
          armed = killer && kills < killer.kills ? pid : undefined
          lifeCheckpoints = 0
          killAt = killer?.atCheckpoint() ?? 1
        },
        checkpoint(_path, source) {
          if (source !== 'protocol') return
          checkpointsAtMs.push(Date.now() - started)
          checkpointed('events')
        },
        progress(snapshot) {
          const at = Date.now() - started
          if (snapshot.total !== null && snapshot.done > 0) reportedTotal = snapshot.total
          if (snapshot.done === lastDone) return
          lastDone = snapshot.done
          progressAtMs.push(at)
          timeline.push({ at, done: snapshot.done })
          if (killer?.on === 'progress') arm()
        },
      },
    })
    return {
      state: result.state,
      error: result.error,
      lives: result.lives,
      kills,
      durationMs: Date.now() - started,
      outputs: hashed(program.outputs, cwd),
      checkpointsAtMs,
      checkpointFilesAtMs: files?.moments() ?? [],
      progressAtMs,
      timeline,
      reportedTotal,
      tail,
    }
  } finally {
    clearTimeout(timer)
    clearInterval(poller)
  }
}

/** The files matching a checkpoint glob, looked at over and over: each new file, or new mtime of one, is a checkpoint. */
class FileWatch {
  private readonly seen = new Map<string, number>()
  private readonly at: number[] = []

  constructor(
    private readonly pattern: string,
    private readonly cwd: string,
    private readonly notBefore: number,
  ) {}

  /** Whether a file appeared or changed since the last look. */
  look(): boolean {
    let changed = false
    for (const path of globSync(this.pattern, { cwd: this.cwd, absolute: true, onlyFiles: true, dot: true })) {
      let mtimeMs: number
      try {
        mtimeMs = statSync(path).mtimeMs
      } catch {
        continue
      }
      // A file older than the run is another run's; mtimes may run a little behind Date.now.
      if (mtimeMs < this.notBefore - 1_000 || this.seen.get(path) === mtimeMs) continue
      this.seen.set(path, mtimeMs)
      this.at.push(Math.max(0, mtimeMs - this.notBefore))
      changed = true
    }
    return changed
  }

  /** The moments seen, ms after the run began, in order. */
  moments(): number[] {
    this.look()
    return [...this.at].sort((a, b) => a - b)
  }
}

/** An argument naming an existing file or folder (relative to where preflight was started), made absolute. */
function absoluteIfExists(arg: string, cwd: string): string {
  if (isAbsolute(arg) || arg.startsWith('-')) return arg
  const path = resolve(cwd, arg)
  return existsSync(path) ? path : arg
}

/** The files matching an --outputs glob (relative to the run's working folder, or absolute), sorted, hashed. */
export function hashed(pattern: string, cwd: string): OutputFile[] {
  const absolute = isAbsolute(pattern)
  return globSync(pattern, { cwd, onlyFiles: true, dot: true, absolute })
    .sort()
    .map((path) => {
      const bytes = readFileSync(absolute ? path : join(cwd, path))
      return { path, sha256: createHash('sha256').update(bytes).digest('hex'), bytes: bytes.length }
    })
}
