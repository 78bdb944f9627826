import { execFileSync } from 'node:child_process'
import { existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { UsageError } from '../errors.ts'
import { runPaths } from '../files/runDir.ts'
import { isLoopJob } from '../job/defineLoop.ts'
import { loadAnyJob } from '../job/loadJob.ts'
import { hasAsyncItem, isPythonJobPath } from '../job/pythonJob.ts'
import { identifyJob, identifyLoop } from '../run/identify.ts'
import { processAlive } from '../telemetry/processAlive.ts'
import { VERSION } from '../version.ts'
import { importJob } from '../work/map/workerBundle.ts'
import { runCommandLine } from './command.ts'
import { gatherLoopEvidence, judgeLoop, type LoopEvidence } from './loopChecks.ts'
import { gatherMapEvidence, judgeMap, type MapEvidence } from './mapSuite.ts'
import type { PreflightOptions } from './options.ts'
import { type LoadedPolicy, launchRules, loadPolicy, type Policy } from './policy.ts'
import { type CheckResult, makeStatement, type ProofStatement, writeProof } from './proof.ts'
import type { SuiteContext } from './rehearsal.ts'
import { writeReports } from './report.ts'
import { policyRules } from './rules.ts'

export { type RehearsalPlan, rehearsalPlan } from './rehearsal.ts'

export interface PreflightResult {
  readonly passed: boolean
  readonly statement: ProofStatement
  readonly proofPath: string
  readonly reportPath: string
  readonly junitPath: string
  /** The `run` command the proof covers, ready to paste. */
  readonly runCommand: string
}

/** What a preflight's checks are judged on: everything its child runs showed (see mapSuite.ts, loopChecks.ts). */
export type SuiteEvidence = MapEvidence | LoopEvidence

/** The seven verdicts of a preflight, from its evidence alone. */
export function judge(policy: Policy, evidence: SuiteEvidence): CheckResult[] {
  return evidence.kind === 'loop' ? judgeLoop(policy, evidence) : judgeMap(policy, evidence)
}

/**
 * `longhaul preflight`: the conformance suite and rehearsal, on the job's own
 * code, in child processes; writes the proof bundle and the reports.
 */
export async function preflight(o: PreflightOptions): Promise<PreflightResult> {
  const startedAt = (o.now ?? Date.now)()
  const suite = await prepare(o)
  return conclude(suite, await gather(suite), startedAt)
}

/**
 * The proof and reports of a preflight whose child runs were made before (by
 * `preflightEvidence` on the same job at the same target): everything a
 * preflight does but run the job. Tests of what follows the evidence use it.
 */
export async function preflightOn(o: PreflightOptions, evidence: SuiteEvidence): Promise<PreflightResult> {
  if (evidence.target !== o.target)
    throw new UsageError(`the evidence was gathered for a target of ${evidence.target}, not ${o.target}`)
  const startedAt = (o.now ?? Date.now)()
  const suite = await prepare(o)
  const kind = isLoopJob(suite.identified.job) ? 'loop' : 'map'
  if (evidence.kind !== kind)
    throw new UsageError(`the evidence is of a ${evidence.kind} job, and ${o.jobPath} is a ${kind} job`)
  return conclude(suite, evidence, startedAt)
}

/** The verdicts, the proof and the reports. */
function conclude(
  { o, loaded, identified, outDir, proofsDir }: Prepared,
  evidence: SuiteEvidence,
  startedAt: number,
): PreflightResult {
  const { policy } = loaded
  const checks = judge(policy, evidence)
  const rules = policyRules(policy, checks)
  const passed = checks.every((c) => c.passed) && rules.every((r) => r.passed)
  const finishedAt = (o.now ?? Date.now)()
  const statement = makeStatement(identified.fingerprint, {
    verdict: passed ? 'PASSED' : 'FAILED',
    job: identified.job.name,
    target: o.target,
    params: identified.params,
    seed: identified.seed,
    identity: identified.identity,
    checks,
    rules,
    policy: { source: loaded.source, digest: loaded.digest, values: launchRules(policy) },
    longhaulVersion: VERSION,
    gitCommit: gitCommit(o.jobPath),
    startedAt: new Date(startedAt).toISOString(),
    finishedAt: new Date(finishedAt).toISOString(),
    expiresAt: new Date(finishedAt + policy.proofValidDays * 86_400_000).toISOString(),
  })
  const proofPath = writeProof(proofsDir, statement)
  const workers = checks.find((c) => c.id === 'rehearsal')?.measurements.workers
  const runCommand = runCommandLine({
    jobPath: o.jobPath,
    outDir,
    target: o.target,
    ...(o.seed !== undefined && { seed: o.seed }),
    ...(o.params && { params: o.params }),
    ...(o.config !== undefined && { config: o.config }),
    ...(typeof workers === 'number' && { workers }),
    ...(o.concurrency !== undefined && { concurrency: o.concurrency }),
  })
  const { reportPath, junitPath } = writeReports(proofsDir, statement, {
    jobPath: o.jobPath,
    outDir,
    fingerprint: identified.fingerprint,
    policySource: sourceOf(loaded),
    runCommand,
  })
  return { passed, statement, proofPath, reportPath, junitPath, runCommand }
}

/**
 * The child runs of a preflight and what they showed, without a verdict or a
 * proof: what `judge` is made from (tests record it from real jobs).
 */
export async function preflightEvidence(o: PreflightOptions): Promise<SuiteEvidence> {
  return gather(await prepare(o))
}

type Prepared = Awaited<ReturnType<typeof prepare>>

/** The options checked, the policy loaded, the job identified. */
async function prepare(o: PreflightOptions) {
  if (!Number.isSafeInteger(o.target) || o.target < 1)
    throw new UsageError(`--target must be a whole number of at least 1, got ${o.target}`)
  if (o.rehearsalBudgetSeconds !== undefined && !(o.rehearsalBudgetSeconds > 0))
    throw new UsageError(`--rehearsal-budget must be above 0 seconds, got ${o.rehearsalBudgetSeconds}`)
  const loaded = await loadPolicy(o.jobPath, o.config)
  const target = {
    jobPath: o.jobPath,
    total: o.target,
    ...(o.seed !== undefined && { seed: o.seed }),
    ...(o.params && { params: o.params }),
  }
  const job = await loadAnyJob(o.jobPath, importJob)
  const loop = isLoopJob(job)
  if (o.concurrency !== undefined && loop)
    throw new UsageError(`${o.jobPath} is a loop job: it makes one step at a time, so --concurrency does not apply`)
  if (o.concurrency !== undefined && isPythonJobPath(o.jobPath) && !hasAsyncItem(job))
    throw new UsageError(
      `${o.jobPath}: --concurrency needs an \`async def item\` (items that await I/O, run on an asyncio loop); its item is a plain function, which makes one item at a time per worker process: use --workers`,
    )
  const identified = loop ? await identifyLoop(target, '--target') : await identifyJob(target, '--target')
  const outDir = o.outDir ?? `runs/${identified.job.name}`
  return { o, loaded, identified, outDir, proofsDir: runPaths(outDir).proofs }
}

/** Every child run of the suite, in a scratch folder removed at the end. */
async function gather({ o, loaded, identified, outDir, proofsDir }: Prepared): Promise<SuiteEvidence> {
  const workDir = join(proofsDir, `${WORK_PREFIX}${process.pid}`)
  removeDeadWorkDirs(proofsDir)
  mkdirSync(workDir, { recursive: true })
  // Children get the params as given, not as resolved: a schema's transforms must run once, in the child, as in `run`.
  const common = {
    jobPath: o.jobPath,
    seed: identified.seed,
    ...(o.params && { params: o.params }),
    ...(o.config && { config: o.config }),
    ...(o.signal && { signal: o.signal }),
    ...(o.concurrency !== undefined && { concurrency: o.concurrency }),
  }
  const step = (message: string): void => o.onStep?.(message)
  const { fingerprint } = identified
  const context: SuiteContext = { o, policy: loaded.policy, workDir, outDir, fingerprint, common, step }
  try {
    return isLoopJob(identified.job)
      ? await gatherLoopEvidence({ ...context, job: identified.job })
      : await gatherMapEvidence({ ...context, job: identified.job })
  } finally {
    rmSync(workDir, { recursive: true, force: true })
  }
}

const WORK_PREFIX = '.preflight-work-'

/** Scratch folders of preflights whose process is gone (killed with -9, say). */
function removeDeadWorkDirs(proofsDir: string): void {
  if (!existsSync(proofsDir)) return
  for (const name of readdirSync(proofsDir)) {
    if (!name.startsWith(WORK_PREFIX)) continue
    const pid = Number(name.slice(WORK_PREFIX.length))
    if (pid === process.pid || !processAlive(pid)) rmSync(join(proofsDir, name), { recursive: true, force: true })
  }
}

function gitCommit(jobPath: string): string | null {
  try {
    return (
      execFileSync('git', ['rev-parse', 'HEAD'], {
        cwd: dirname(resolve(jobPath)),
        stdio: ['ignore', 'pipe', 'ignore'],
      })
        .toString()
        .trim() || null
    )
  } catch {
    return null
  }
}

function sourceOf(loaded: LoadedPolicy): string {
  return loaded.source ?? 'defaults (no longhaul.config.ts found above the job)'
}
