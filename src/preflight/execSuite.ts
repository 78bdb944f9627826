import { rmSync } from 'node:fs'
import { dirname, isAbsolute, join, resolve } from 'node:path'
import { UsageError } from '../errors.ts'
import { diskFits } from './checks.ts'
import { statfsProbe } from './estimates.ts'
import { execRehearsalCheck, projectExec } from './execRehearsal.ts'
import {
  type ExecProgram,
  type ExecRunEvidence,
  hashed,
  type Killer,
  type KillMoment,
  supervisedRun,
} from './execRun.ts'
import type { Policy } from './policy.ts'
import type { CheckResult } from './proof.ts'
import type { RehearsalPlan } from './rehearsal.ts'

export type { ExecProgram, ExecRunEvidence } from './execRun.ts'

/** Everything `preflight --exec` gathered: `judgeExec` makes the verdicts from it alone. */
export interface ExecEvidence {
  readonly kind: 'exec'
  readonly target: number
  readonly killSeed: number
  /** SIGKILLs planned for the crashed run: the policy's crashKills. */
  readonly plannedKills: number
  /** The rehearsal's size, when the command sets its size through {total} or {fraction}; absent: the runs were of the command as given. */
  readonly rehearsal?: RehearsalPlan
  /** Free bytes where the program writes; absent when not measured. */
  readonly freeBytes?: number
  readonly reference: ExecRunEvidence
  /** Absent when the reference did not complete. */
  readonly crashed?: ExecRunEvidence
}

/**
 * The evidence of `preflight --exec`: the program (at its rehearsal's size
 * when its arguments hold a size template, see execRehearsal.ts) run
 * uninterrupted under exec in a scratch folder, then again in another,
 * SIGKILLed the policy's crashKills times at seeded moments (in each life,
 * after its 1st or 2nd checkpoint: the events it reports, else the files its
 * --checkpoints glob finds; or a while after its first progress when it has
 * neither) and restarted by exec's own restart path (its --checkpoints and
 * --resume-arg). Each run's working folder is its scratch folder: the outputs
 * it writes to relative paths land there; an argument naming an existing
 * path is passed as an absolute path, so the program and its inputs are read
 * from where they are. Outputs at an absolute --outputs are hashed, then
 * removed before the next run writes them again.
 */
export async function gatherExecEvidence(
  program: ExecProgram,
  workDir: string,
  killSeed: number,
  policy: Policy,
  /** With a rehearsal, the program is of its size; the target is the size proved. */
  rehearsal: { readonly plan: RehearsalPlan; readonly target: number } | undefined,
  signal?: AbortSignal,
): Promise<ExecEvidence> {
  const target = rehearsal?.target ?? program.total ?? 0
  refuseExistingOutputs(program)
  const where = isAbsolute(program.outputs) ? globBase(program.outputs) : program.cwd
  const facts = {
    kind: 'exec' as const,
    target,
    killSeed,
    plannedKills: policy.crashKills,
    ...(rehearsal && { rehearsal: rehearsal.plan }),
    freeBytes: (await statfsProbe(where)).freeBytes,
  }
  const reference = await supervisedRun(program, join(workDir, 'reference'), signal)
  removeAbsoluteOutputs(program, reference)
  if (reference.state !== 'complete') return { ...facts, reference }
  const random = seeded(killSeed)
  const events = reference.checkpointsAtMs
  const files = reference.checkpointFilesAtMs ?? []
  const on: KillMoment = events.length > 0 ? 'events' : files.length > 0 ? 'files' : 'progress'
  const c = on === 'events' ? events : files
  const kills = policy.crashKills
  // A program with checkpoints is killed at its 1st or 2nd of a life (so that its resume is exercised; its 1st alone
  // when it has too few for every kill to land that way), a seeded fraction of its mean checkpoint interval later; one
  // with none, a seeded while after its first progress.
  const upTo = c.length >= 2 * (kills + 1) ? 2 : 1
  const killer: Killer = {
    kills,
    on,
    atCheckpoint: () => 1 + Math.floor(random() * upTo),
    delayMs: () =>
      on === 'progress'
        ? (reference.durationMs - (reference.progressAtMs[0] ?? 0)) * (0.15 + 0.3 * random())
        : random() * (c.length > 1 ? (c.at(-1)! - c[0]!) / (c.length - 1) : reference.durationMs - c[0]!),
  }
  const crashed = await supervisedRun(program, join(workDir, 'crashed'), signal, killer)
  removeAbsoluteOutputs(program, crashed)
  return { ...facts, reference, crashed }
}

/** Files already at an absolute --outputs would be taken for the program's: refused before anything runs. */
function refuseExistingOutputs(program: ExecProgram): void {
  if (!isAbsolute(program.outputs)) return
  const found = hashed(program.outputs, program.cwd)
  if (found.length > 0)
    throw new UsageError(
      `--outputs ${program.outputs} already matches ${found.length} file${found.length === 1 ? '' : 's'} (${found[0]!.path}${found.length > 1 ? ', …' : ''}): preflight --exec runs the program twice and compares what each run writes there, so the folder must hold none of them; move them away first, or point the program at an empty folder`,
    )
}

/** The outputs a run wrote at an absolute --outputs, removed once hashed: the next run must write its own. */
function removeAbsoluteOutputs(program: ExecProgram, run: ExecRunEvidence): void {
  if (isAbsolute(program.outputs)) for (const f of run.outputs) rmSync(f.path, { force: true })
}

/** The folder an absolute glob's matches are under: its path up to the first glob character. */
function globBase(pattern: string): string {
  const fixed = pattern.split(/[*?[{]/)[0]!
  return fixed.endsWith('/') ? resolve(fixed) : dirname(resolve(fixed))
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

/** The verdicts of `preflight --exec`, from its evidence alone. */
export function judgeExec(policy: Policy, e: ExecEvidence): CheckResult[] {
  const projection = projectExec(e.reference, e.target, e.rehearsal)
  return [
    crashResume(e),
    cadence(policy, e),
    freshness(policy, e),
    execRehearsalCheck(e.reference, e.target, e.rehearsal, projection),
    diskFits({ policy, projectedBytes: projection.projectedBytes, freeBytes: e.freeBytes }),
  ]
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
      'crash-resume: --outputs must match the files the program writes (a glob relative to its working folder, or absolute) — none matched after the uninterrupted run',
    )
  else if (c) {
    if (c.state !== 'complete')
      failures.push(
        `crash-resume: a program killed and restarted through --resume-arg must complete — it ended ${c.state}: ${c.error ?? ''} ${lastLine(c.tail)}`,
      )
    else if (c.kills < e.plannedKills)
      failures.push(
        `crash-resume: the program must be killed ${e.plannedKills} times (crashKills) to prove its resume — only ${c.kills} SIGKILL${c.kills === 1 ? '' : 's'} landed before it finished (make it run longer, or checkpoint more often)`,
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

/** Cadence from the checkpoints the program reported, else from when the files of its --checkpoints glob appeared or changed. */
function cadence(policy: Policy, e: ExecEvidence): CheckResult {
  const r = e.reference
  const files = r.checkpointsAtMs.length === 0 && (r.checkpointFilesAtMs ?? []).length > 0
  const moments = files ? r.checkpointFilesAtMs! : r.checkpointsAtMs
  const gap = longestGap(moments, r.durationMs)
  const failures: string[] = []
  if (moments.length === 0)
    failures.push(
      'checkpoint-cadence: the program must report each durable checkpoint ({"type":"checkpoint","path":…} on LONGHAUL_EVENTS) or write it where --checkpoints GLOB finds it — it did neither',
    )
  else if (gap > policy.maxLostWorkSeconds)
    failures.push(
      `checkpoint-cadence: a crash may lose at most ${policy.maxLostWorkSeconds} s of work (maxLostWorkSeconds) — ${gap.toFixed(1)} s passed without a checkpoint`,
    )
  return {
    id: 'checkpoint-cadence',
    title: 'Checkpoint cadence',
    passed: failures.length === 0,
    evidence: `${moments.length} checkpoints in the uninterrupted run (${files ? 'files written, by their mtime' : 'reported'}); at most ${gap.toFixed(1)} s without one`,
    failures,
    measurements: { checkpoints: moments.length, source: files ? 'files' : 'events', maxGapSeconds: gap },
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
