import { createHash } from 'node:crypto'
import { existsSync, mkdirSync, readFileSync } from 'node:fs'
import { isAbsolute, join, resolve } from 'node:path'
import { Writable } from 'node:stream'
import { globSync } from 'tinyglobby'
import { superviseProgram } from '../work/exec/supervise.ts'
import type { Policy } from './policy.ts'
import type { CheckResult } from './proof.ts'

/** The program a `preflight --exec` proves, as `exec` would run it. */
export interface ExecProgram {
  readonly command: string
  readonly args: readonly string[]
  /** Where relative paths in the arguments are read from. */
  readonly cwd: string
  readonly resumeArg?: string
  readonly checkpoints?: string
  /** The files whose bytes must not depend on crashes, relative to the program's working folder. */
  readonly outputs: string
  readonly total?: number
}

/** What one supervised run showed. */
export interface ExecRunEvidence {
  readonly state: 'complete' | 'failed' | 'interrupted'
  readonly error: string | null
  readonly lives: number
  /** SIGKILLs that landed on a living program. */
  readonly kills: number
  readonly durationMs: number
  /** The files matching --outputs, sorted, with their sha256. */
  readonly outputs: readonly { readonly path: string; readonly sha256: string }[]
  /** When the program reported a new checkpoint, ms after the run began. */
  readonly checkpointsAtMs: readonly number[]
  /** When its reported progress moved, ms after the run began. */
  readonly progressAtMs: readonly number[]
  /** The end of its output, for a failure's message. */
  readonly tail: string
}

/** Everything `preflight --exec` gathered: `judgeExec` makes the verdicts from it alone. */
export interface ExecEvidence {
  readonly kind: 'exec'
  readonly target: number
  readonly killSeed: number
  readonly plannedKills: number
  readonly reference: ExecRunEvidence
  /** Absent when the reference did not complete. */
  readonly crashed?: ExecRunEvidence
}

/** SIGKILLs of the crashed run, each in a different life. */
export const EXEC_KILLS = 3
/** At least this many kills must land for the comparison to mean anything. */
export const MIN_EXEC_KILLS = 2

/**
 * The evidence of `preflight --exec`: the program run uninterrupted under
 * exec in a scratch folder, then again in another, SIGKILLed at seeded
 * moments (in each life, after its 1st or 2nd checkpoint, or a while after
 * its first progress when it reports no checkpoints) and restarted by exec's own restart path (its --checkpoints and --resume-arg).
 * Each run's working folder is its scratch folder: the outputs it writes to
 * relative paths land there; an argument naming an existing path is passed
 * as an absolute path, so the program and its inputs are read from where
 * they are.
 */
export async function gatherExecEvidence(
  program: ExecProgram,
  workDir: string,
  killSeed: number,
  signal?: AbortSignal,
): Promise<ExecEvidence> {
  const target = program.total ?? 0
  const reference = await supervisedRun(program, join(workDir, 'reference'), signal)
  if (reference.state !== 'complete') return { kind: 'exec', target, killSeed, plannedKills: EXEC_KILLS, reference }
  const random = seeded(killSeed)
  const c = reference.checkpointsAtMs
  // A program that reports checkpoints is killed at its 1st or 2nd of a life (so that its resume is exercised), a seeded
  // fraction of its mean checkpoint interval later; one that reports none, a seeded while after its first progress.
  const killer: Killer =
    c.length > 0
      ? {
          kills: EXEC_KILLS,
          atCheckpoint: () => 1 + Math.floor(random() * 2),
          delayMs: () =>
            random() * (c.length > 1 ? (c.at(-1)! - c[0]!) / (c.length - 1) : reference.durationMs - c[0]!),
        }
      : {
          kills: EXEC_KILLS,
          delayMs: () => (reference.durationMs - (reference.progressAtMs[0] ?? 0)) * (0.15 + 0.3 * random()),
        }
  const crashed = await supervisedRun(program, join(workDir, 'crashed'), signal, killer)
  return { kind: 'exec', target, killSeed, plannedKills: EXEC_KILLS, reference, crashed }
}

interface Killer {
  readonly kills: number
  /** Which checkpoint of a life starts the kill's delay; absent: its first progress does. */
  readonly atCheckpoint?: () => number
  readonly delayMs: () => number
}

async function supervisedRun(
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
  let killAt: number | undefined
  let lastDone = -1
  let lastCheckpoints = 0
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
        killAt = killer?.atCheckpoint?.()
      },
      progress(snapshot) {
        const at = Date.now() - started
        const moved = snapshot.done !== lastDone
        const checkpointed = snapshot.checkpoints > lastCheckpoints
        if (moved) progressAtMs.push(at)
        if (checkpointed) lifeCheckpoints++
        if (
          armed !== undefined &&
          killer &&
          (killAt === undefined ? moved : checkpointed && lifeCheckpoints >= killAt)
        ) {
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
        if (checkpointed) checkpointsAtMs.push(at)
        lastDone = snapshot.done
        lastCheckpoints = snapshot.checkpoints
      },
    },
  })
  clearTimeout(timer)
  return {
    state: result.state,
    error: result.error,
    lives: result.lives,
    kills,
    durationMs: Date.now() - started,
    outputs: hashed(program.outputs, cwd),
    checkpointsAtMs,
    progressAtMs,
    tail,
  }
}

/** An argument naming an existing file or folder (relative to where preflight was started), made absolute. */
function absoluteIfExists(arg: string, cwd: string): string {
  if (isAbsolute(arg) || arg.startsWith('-')) return arg
  const path = resolve(cwd, arg)
  return existsSync(path) ? path : arg
}

function hashed(pattern: string, cwd: string): ExecRunEvidence['outputs'] {
  return globSync(pattern, { cwd, onlyFiles: true, dot: true })
    .sort()
    .map((path) => ({
      path,
      sha256: createHash('sha256')
        .update(readFileSync(join(cwd, path)))
        .digest('hex'),
    }))
}

/** A small seeded generator (mulberry32): the kill moments follow from the seed. */
function seeded(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296
  }
}

/** The three verdicts of `preflight --exec`, from its evidence alone. */
export function judgeExec(policy: Policy, e: ExecEvidence): CheckResult[] {
  return [crashResume(e), cadence(policy, e), freshness(policy, e)]
}

function crashResume(e: ExecEvidence): CheckResult {
  const failures: string[] = []
  const r = e.reference
  const c = e.crashed
  if (r.state !== 'complete')
    failures.push(
      `crash-resume: the uninterrupted run must complete — it ended ${r.state}: ${r.error ?? ''} ${lastLine(r.tail)}`,
    )
  else if (r.outputs.length === 0)
    failures.push(
      'crash-resume: --outputs must match the files the program writes (relative to its working folder) — none matched after the uninterrupted run',
    )
  else if (c) {
    if (c.state !== 'complete')
      failures.push(
        `crash-resume: a program killed and restarted through --resume-arg must complete — it ended ${c.state}: ${c.error ?? ''} ${lastLine(c.tail)}`,
      )
    else if (c.kills < MIN_EXEC_KILLS)
      failures.push(
        `crash-resume: the program must be killed at least ${MIN_EXEC_KILLS} times to prove its resume — only ${c.kills} SIGKILL landed before it finished (make it run longer)`,
      )
    else {
      const differs = firstDifference(r.outputs, c.outputs)
      if (differs)
        failures.push(
          `crash-resume: outputs after SIGKILLs and resumes must be byte-identical to the uninterrupted run's — ${differs} (its resume skips, repeats or changes work)`,
        )
    }
  }
  return {
    id: 'crash-resume',
    title: 'Crash/resume equivalence',
    passed: failures.length === 0,
    evidence: c
      ? `${c.kills} SIGKILLs over ${c.lives} lives (seed ${e.killSeed}); ${c.outputs.length} output files against ${r.outputs.length} uninterrupted`
      : 'no crashed run: the uninterrupted run did not complete',
    failures,
    measurements: { kills: c?.kills ?? 0, lives: c?.lives ?? 0, outputs: r.outputs.length, killSeed: e.killSeed },
  }
}

function firstDifference(
  reference: ExecRunEvidence['outputs'],
  crashed: ExecRunEvidence['outputs'],
): string | undefined {
  const other = new Map(crashed.map((f) => [f.path, f.sha256]))
  for (const f of reference) {
    const sha = other.get(f.path)
    if (sha === undefined) return `${f.path} is missing`
    if (sha !== f.sha256) return `${f.path} differs`
  }
  const extra = crashed.find((f) => !reference.some((r) => r.path === f.path))
  return extra ? `${extra.path} is extra` : undefined
}

/** The longest stretch, seconds, between the run's start, each moment and its end. */
function longestGap(moments: readonly number[], endMs: number): number {
  let last = 0
  let gap = 0
  for (const at of [...moments, endMs]) {
    gap = Math.max(gap, at - last)
    last = at
  }
  return gap / 1000
}

function cadence(policy: Policy, e: ExecEvidence): CheckResult {
  const r = e.reference
  const gap = longestGap(r.checkpointsAtMs, r.durationMs)
  const failures: string[] = []
  if (r.checkpointsAtMs.length === 0)
    failures.push(
      'checkpoint-cadence: the program must report each durable checkpoint ({"type":"checkpoint","path":…} on LONGHAUL_EVENTS) — it reported none',
    )
  else if (gap > policy.maxLostWorkSeconds)
    failures.push(
      `checkpoint-cadence: a crash may lose at most ${policy.maxLostWorkSeconds} s of work (maxLostWorkSeconds) — ${gap.toFixed(1)} s passed without a checkpoint`,
    )
  return {
    id: 'checkpoint-cadence',
    title: 'Checkpoint cadence',
    passed: failures.length === 0,
    evidence: `${r.checkpointsAtMs.length} checkpoints in the uninterrupted run; at most ${gap.toFixed(1)} s without one`,
    failures,
    measurements: { checkpoints: r.checkpointsAtMs.length, maxGapSeconds: gap },
  }
}

function freshness(policy: Policy, e: ExecEvidence): CheckResult {
  const r = e.reference
  const gap = longestGap(r.progressAtMs, r.durationMs)
  const failures: string[] = []
  if (r.progressAtMs.length === 0)
    failures.push(
      'progress-freshness: the program must report its progress (protocol progress lines or a tqdm bar) — it reported none',
    )
  else if (gap > policy.progressMaxStaleSeconds)
    failures.push(
      `progress-freshness: progress may be at most ${policy.progressMaxStaleSeconds} s old (progressMaxStaleSeconds) — it did not move for ${gap.toFixed(1)} s`,
    )
  return {
    id: 'progress-freshness',
    title: 'Progress freshness',
    passed: failures.length === 0,
    evidence: `${r.progressAtMs.length} progress moves in the uninterrupted run; at most ${gap.toFixed(1)} s without one`,
    failures,
    measurements: { progressMoves: r.progressAtMs.length, maxStaleSeconds: gap, samples: r.progressAtMs.length },
  }
}

function lastLine(tail: string): string {
  return tail.trim().split('\n').at(-1) ?? ''
}
