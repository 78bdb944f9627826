/**
 * What job runs where, and what the launch gate is shown of it: the job loaded, its params resolved, its identity and
 * fingerprint worked out, without writing anything; and the refusal of a run
 * of another job (invariant same-job-or-refuse). Opening a run, the launch
 * gate and preflight all start here.
 */
import { FingerprintMismatchError, UsageError } from '../errors.ts'
import type { MapJob } from '../job/defineJob.ts'
import { isLoopJob, type LoopJob } from '../job/defineLoop.ts'
import {
  describeChanges,
  fingerprintOf,
  hashCode,
  hashLockfile,
  type JobIdentity,
  makeIdentity,
} from '../job/fingerprint.ts'
import type { InputScan } from '../job/inputs/input.ts'
import { loadAnyJob, loadJob } from '../job/loadJob.ts'
import { resolveParams } from '../job/params.ts'
import { pythonRuntime, pythonSources } from '../job/pythonJob.ts'
import type { RunKind, RunRecord } from '../journal/store.ts'
import type { LaunchClearance } from '../telemetry/snapshot.ts'
import { buildJob, importJob } from '../work/map/workerBundle.ts'

/** Which job runs where, as the user asked. */
export interface RunTarget {
  readonly jobPath: string
  readonly outDir: string
  /** Items 0 … total-1. @default the job's `total`, or the run's on resume */
  readonly total?: number
  /** @default the job's `seed`, else 0 */
  readonly seed?: number
  readonly params?: Readonly<Record<string, unknown>>
  /** Move an existing run in outDir aside and start over. @default false */
  readonly fresh?: boolean
}

/** What the launch gate is shown before anything is written. */
export interface LaunchFacts {
  readonly job: string
  readonly jobPath: string
  readonly outDir: string
  readonly fingerprint: string
  readonly total: number
  readonly params: unknown
  readonly seed: number
  /** map: items 0 … total-1; loop: `total` steps; exec: a supervised program. */
  readonly kind: RunKind
  /** What the fingerprint is made of, so that a refusal can say what changed since a proof. */
  readonly identity?: JobIdentity
}

/** Decides whether a run may start: resolves with the clearance to record, or throws the refusal (invariant gate). */
export type LaunchGate = (facts: LaunchFacts) => Promise<LaunchClearance>

/** The job as it would run: loaded, params resolved, identity and fingerprint worked out. Writes nothing. */
export interface IdentifiedJob {
  readonly job: MapJob
  readonly params: unknown
  readonly seed: number
  readonly input: InputScan | undefined
  readonly identity: JobIdentity
  readonly fingerprint: string
}

/** Loads the job and works out its identity (invariant same-job-or-refuse); the launch gate and preflight use the same. */
export async function identifyJob(
  target: Pick<RunTarget, 'jobPath' | 'seed' | 'params' | 'total'>,
  totalFlag = '--total',
): Promise<IdentifiedJob> {
  const job = await loadJob(target.jobPath, importJob)
  const params = resolveParams(job, target.params ?? {})
  const seed = checkSeed(target.seed ?? job.seed)
  const input = job.input ? await job.input.scan() : undefined
  checkTotal(target.total, totalFlag)
  if (input && target.total !== undefined && target.total > input.count) {
    throw new UsageError(`${totalFlag} ${target.total} is more than the ${input.count} records of the input`)
  }
  const identity: JobIdentity = makeIdentity({
    job: job.name,
    // A Python job's own modules, as Python imported them; else the esbuild pass that bundles the job for its threads.
    sources: await hashCode(
      target.jobPath,
      job.files,
      pythonSources(job, target.jobPath) ?? buildJob(target.jobPath).then((built) => built.sources),
    ),
    params,
    seed,
    output: job.output.description,
    input: job.input && input ? { description: job.input.description, digest: input.digest } : null,
    lockfile: hashLockfile(target.jobPath),
    runtime: pythonRuntime(job),
  })
  return { job, params, seed, input, identity, fingerprint: fingerprintOf(identity) }
}

/** A loop job as it would run: loaded, params resolved, identity and fingerprint worked out. Writes nothing. */
export interface IdentifiedLoop {
  readonly job: LoopJob
  readonly params: unknown
  readonly seed: number
  readonly identity: JobIdentity
  readonly fingerprint: string
}

/** A loop has no output format of its own (its bytes are whatever its `save` returns); this marks the identity as a loop's, so a map job's run is never taken for one. */
const LOOP_OUTPUT = { kind: 'loop' } as const

/**
 * A loop's identity: its name, its code and local imports, params, seed and
 * lockfile, as for a map job. Its number of steps is not part of it, so a
 * finished loop may be continued with a larger `--total`.
 */
export async function identifyLoop(
  target: Pick<RunTarget, 'jobPath' | 'seed' | 'params' | 'total'>,
  totalFlag = '--total',
): Promise<IdentifiedLoop> {
  const job = await loadAnyJob(target.jobPath, importJob)
  if (!isLoopJob(job)) {
    throw new UsageError(
      `${target.jobPath} is a map job (defineJob), not a loop job (defineLoop).`,
      'LONGHAUL_JOB_INVALID',
    )
  }
  const params = resolveParams(job, target.params ?? {})
  const seed = checkSeed(target.seed ?? job.seed)
  checkTotal(target.total, totalFlag)
  const identity: JobIdentity = makeIdentity({
    job: job.name,
    sources: await hashCode(target.jobPath, job.files),
    params,
    seed,
    output: LOOP_OUTPUT,
    input: null,
    lockfile: hashLockfile(target.jobPath),
  })
  return { job, params, seed, identity, fingerprint: fingerprintOf(identity) }
}

function checkSeed(seed: number): number {
  if (!Number.isSafeInteger(seed) || seed < 0 || seed > 2 ** 32 - 1)
    throw new UsageError(`the seed must be a whole number from 0 to 4294967295, got ${seed}`)
  return seed
}

function checkTotal(total: number | undefined, totalFlag: string): void {
  if (total !== undefined && (!Number.isSafeInteger(total) || total <= 0)) {
    throw new UsageError(`${totalFlag} must be a whole number above 0, got ${total}`)
  }
}

/** Refuses a run of another job (invariant same-job-or-refuse), naming what changed; `advice` says what to do instead. */
export function assertSameJob(
  where: string,
  run: RunRecord | undefined,
  identity: JobIdentity,
  fingerprint: string,
  advice?: string,
): void {
  if (run && run.fingerprint !== fingerprint) {
    const changes = describeChanges(JSON.parse(run.identity) as JobIdentity, identity)
    throw new FingerprintMismatchError(where, changes.length ? changes : ['the job fingerprint differs'], advice)
  }
}
