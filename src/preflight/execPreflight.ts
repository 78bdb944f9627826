import { createHash } from 'node:crypto'
import { existsSync, mkdirSync, readFileSync, rmSync, statSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { UsageError } from '../errors.ts'
import { runPaths } from '../files/runDir.ts'
import type { LaunchGate } from '../run/identify.ts'
import { VERSION } from '../version.ts'
import { programName } from '../work/exec/options.ts'
import { shellWord } from './command.ts'
import { execRehearsalPlan, sizedArgs } from './execRehearsal.ts'
import { type ExecEvidence, type ExecProgram, gatherExecEvidence, judgeExec } from './execSuite.ts'
import { launchGate } from './gate.ts'
import { type LoadedPolicy, launchRules, loadPolicy } from './policy.ts'
import { type CheckResult, makeStatement, type ProofStatement, type RuleResult, writeProof } from './proof.ts'
import { writeReports } from './report.ts'

export interface ExecPreflightOptions extends ExecProgram {
  /** exec's run directory; the proof goes to its proofs/. @default runs/<program name> */
  readonly outDir?: string
  readonly config?: string
  /** Seeds the kill moments. @default 0 */
  readonly seed?: number
  readonly signal?: AbortSignal
  readonly now?: () => number
}

export interface ExecPreflightResult {
  readonly passed: boolean
  readonly statement: ProofStatement
  readonly proofPath: string
  readonly reportPath: string
  /** The `exec` command the proof covers. */
  readonly execCommand: string
}

/** What an exec run is, for its proof: the command, its arguments, how it resumes, and the bytes of every file its arguments name. */
export function execFingerprint(
  p: Pick<ExecProgram, 'command' | 'args' | 'cwd' | 'resumeArg' | 'checkpoints'>,
): string {
  const files: Record<string, string> = {}
  for (const arg of [p.command, ...p.args]) {
    const path = resolve(p.cwd, arg)
    if (!arg.startsWith('-') && existsSync(path) && statSync(path).isFile())
      files[arg] = createHash('sha256').update(readFileSync(path)).digest('hex')
  }
  const what = {
    command: [p.command, ...p.args],
    resumeArg: p.resumeArg ?? null,
    checkpoints: p.checkpoints ?? null,
    files,
  }
  return createHash('sha256').update(JSON.stringify(what)).digest('hex')
}

/** The policy for a program: --config, else the nearest config above its script (or the working folder). */
export function execPolicy(p: Pick<ExecProgram, 'command' | 'args' | 'cwd'>, config?: string): Promise<LoadedPolicy> {
  const script = [...p.args, p.command].find((arg) => /\.(py|sh|js|mjs|ts|rb|pl|R|jl)$/.test(arg))
  return loadPolicy(resolve(p.cwd, script ?? 'program'), config)
}

/** The exec command a proof covers, as the user can paste it (and the preflight that proves it). */
export function execCommandLine(
  o: ExecPreflightOptions & { readonly outDir: string },
  verb: 'exec' | 'preflight',
): string {
  const words = ['npx', 'longhaul', verb, ...(verb === 'preflight' ? ['--exec'] : []), '--out', o.outDir]
  if (o.total !== undefined) words.push('--total', String(o.total))
  if (o.checkpoints !== undefined) words.push('--checkpoints', o.checkpoints)
  if (o.resumeArg !== undefined) words.push('--resume-arg', o.resumeArg)
  if (verb === 'preflight') words.push('--outputs', o.outputs)
  if (o.config !== undefined) words.push('--config', o.config)
  words.push('--', o.command, ...o.args)
  return words.map(shellWord).join(' ')
}

/**
 * `longhaul preflight --exec … -- CMD ARGS…`: proves a supervised program
 * (crash/resume equivalence of its outputs, checkpoint cadence, progress
 * freshness) and writes the proof `exec` asks for above the policy's scale.
 */
export async function preflightExec(o: ExecPreflightOptions): Promise<ExecPreflightResult> {
  const now = o.now ?? Date.now
  const startedAt = now()
  if (o.total === undefined)
    throw new UsageError(
      'preflight --exec needs --target N (or --total N): the amount of work the proof is for, as exec is given it',
    )
  const loaded = await execPolicy(o, o.config)
  // A {total} or {fraction} in the arguments sets the program's size: the proof is for the command at the target's,
  // its runs are of the rehearsal's.
  const plan = execRehearsalPlan(o.args, o.total, loaded.policy)
  const proved = { ...o, args: sizedArgs(o.args, o.total, 1), ...(plan && { template: o.args }) }
  const rehearsed = plan ? { ...o, args: sizedArgs(o.args, plan.items, plan.fraction), total: plan.items } : o
  const outDir = o.outDir ?? join('runs', programName(o.command, proved.args))
  const proofsDir = runPaths(outDir).proofs
  const workDir = join(proofsDir, `.preflight-work-${process.pid}`)
  mkdirSync(workDir, { recursive: true })
  let evidence: ExecEvidence
  try {
    evidence = await gatherExecEvidence(
      rehearsed,
      workDir,
      o.seed ?? 0,
      loaded.policy,
      plan && { plan, target: o.total },
      o.signal,
    )
  } finally {
    rmSync(workDir, { recursive: true, force: true })
  }
  return concludeExec({ ...proved, outDir }, loaded, evidence, startedAt)
}

/** The verdicts, proof and reports of `preflight --exec` from its evidence. */
export function concludeExec(
  o: ExecPreflightOptions & { readonly outDir: string; readonly template?: readonly string[] },
  loaded: LoadedPolicy,
  evidence: ExecEvidence,
  startedAt: number,
): ExecPreflightResult {
  const { policy } = loaded
  const checks = judgeExec(policy, evidence)
  const rules = execRules(loaded, checks)
  const passed = checks.every((c) => c.passed) && rules.every((r) => r.passed)
  const finishedAt = (o.now ?? Date.now)()
  const fingerprint = execFingerprint(o)
  const statement = makeStatement(fingerprint, {
    verdict: passed ? 'PASSED' : 'FAILED',
    job: programName(o.command, o.args),
    target: evidence.target,
    params: {
      command: [o.command, ...o.args],
      ...(o.template && { sizedBy: [o.command, ...o.template] }),
      outputs: o.outputs,
      resumeArg: o.resumeArg ?? null,
    },
    seed: evidence.killSeed,
    checks,
    rules,
    policy: { source: loaded.source, digest: loaded.digest, values: launchRules(policy) },
    longhaulVersion: VERSION,
    gitCommit: null,
    startedAt: new Date(startedAt).toISOString(),
    finishedAt: new Date(finishedAt).toISOString(),
    expiresAt: new Date(finishedAt + policy.proofValidDays * 86_400_000).toISOString(),
  })
  const proofPath = writeProof(runPaths(o.outDir).proofs, statement)
  const execCommand = execCommandLine(o, 'exec')
  const { reportPath } = writeReports(runPaths(o.outDir).proofs, statement, {
    jobPath: [o.command, ...o.args].join(' '),
    outDir: o.outDir,
    fingerprint,
    policySource: loaded.source ?? 'defaults (no longhaul.config.ts found above the program)',
    runCommand: execCommand,
  })
  return { passed, statement, proofPath, reportPath, execCommand }
}

/** The policy's rules that the exec suite proves, each with its evidence. */
function execRules({ policy }: LoadedPolicy, checks: readonly CheckResult[]): RuleResult[] {
  const of = (id: CheckResult['id']): CheckResult | undefined => checks.find((c) => c.id === id)
  const rule = (name: RuleResult['rule'], id: CheckResult['id'] | 'config', passed: boolean, evidence: string) => ({
    rule: name,
    value: policy[name],
    check: id,
    passed,
    evidence,
  })
  const crash = of('crash-resume')!
  const kills = crash.measurements.kills as number
  return [
    rule(
      'maxLostWorkSeconds',
      'checkpoint-cadence',
      of('checkpoint-cadence')!.passed,
      of('checkpoint-cadence')!.evidence,
    ),
    rule(
      'progressMaxStaleSeconds',
      'progress-freshness',
      of('progress-freshness')!.passed,
      of('progress-freshness')!.evidence,
    ),
    rule(
      'crashKills',
      'crash-resume',
      kills >= policy.crashKills,
      `${kills} SIGKILLs over ${crash.measurements.lives} lives, each resumed through --resume-arg`,
    ),
    rule('rehearsalFraction', 'rehearsal', of('rehearsal')!.passed, of('rehearsal')!.evidence),
    rule('diskMargin', 'disk', of('disk')!.passed, of('disk')!.evidence),
    rule(
      'requireProofAbove',
      'config',
      true,
      `enforced by \`longhaul exec\`: a --total above ${policy.requireProofAbove} needs this proof`,
    ),
    rule('proofValidDays', 'config', true, `the proof expires ${policy.proofValidDays} days after it was made`),
  ]
}

/**
 * The launch gate for `exec` (invariant gate): a run whose total is above
 * the policy's requireProofAbove starts only with a passing, unexpired proof
 * of this same program (its command, arguments, the bytes of the files they
 * name, its --checkpoints and --resume-arg) in its --out's proofs/, made
 * under the same policy, for a total at least its own. Asked by exec before
 * anything is written; its decision is journaled as every run's is.
 */
export async function execLaunchGate(
  o: Pick<ExecPreflightOptions, 'command' | 'args' | 'cwd' | 'resumeArg' | 'checkpoints' | 'config'> & {
    readonly skip: boolean
  },
): Promise<LaunchGate> {
  const gate = launchGate({
    policy: await execPolicy(o, o.config),
    skip: o.skip,
    preflightCommand: (facts) =>
      execCommandLine(
        { ...o, outDir: facts.outDir, total: facts.total, outputs: '<files the program writes>' },
        'preflight',
      ),
  })
  const fingerprint = execFingerprint(o)
  return (facts) => gate({ ...facts, fingerprint, job: programName(o.command, o.args) })
}
