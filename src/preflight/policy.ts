import { createHash } from 'node:crypto'
import { existsSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { z } from 'zod'
import { publishTargetSchema } from '../dashboard/publish/publishers.ts'
import { UsageError } from '../errors.ts'
import { importCompiled } from '../job/compile.ts'
import { canonical } from '../job/fingerprint.ts'

/**
 * A team's mandatory rules for launching a job (DESIGN §2, "Policy as code"),
 * kept in `longhaul.config.ts` beside the jobs. Preflight proves every rule on
 * the job's own code; `run` refuses a large run without that proof.
 */
export const policySchema = z
  .object({
    /** A crash may lose at most this much work, seconds. */
    maxLostWorkSeconds: z.number().positive().default(300),
    /** progress.json may never be older than this while the run lives, seconds. */
    progressMaxStaleSeconds: z.number().positive().default(30),
    /** progress.json and PROGRESS.txt are rewritten this often, seconds. */
    progressEverySeconds: z.number().positive().default(10),
    /** The heartbeat moves this often, seconds. */
    heartbeatSeconds: z.number().positive().default(10),
    /** A run that finishes nothing for this long is reported stalled, seconds. */
    stallAfterSeconds: z.number().positive().default(300),
    /** The rehearsal runs this fraction of the target. */
    rehearsalFraction: z.number().gt(0).max(1).default(0.1),
    /** The projected output times this must fit in the free disk. */
    diskMargin: z.number().min(1).default(1.5),
    /** A run of more items than this needs a passing proof. */
    requireProofAbove: z.number().int().nonnegative().default(1_000),
    /** A proof is good for this many days. */
    proofValidDays: z.number().positive().default(30),
    /** The crash/resume check kills the job at least this many times. */
    crashKills: z.number().int().min(1).max(50).default(5),
    /** Items in the crash/resume runs (or the target, when smaller). */
    crashItems: z.number().int().min(20).default(200),
    /** Memory may grow by at most this much between the rehearsal and the target, projected, MiB. */
    maxMemoryGrowthMiB: z.number().positive().default(256),
    /** Every job must declare a `validate(record)` function (datasetChecks alone do not count). */
    requireValidators: z.boolean().default(false),
    /** The share of items a validator may reject. */
    maxInvalidFraction: z.number().min(0).max(1).default(0),
    /** The target's projected cost may be at most this, US dollars: the upper bound of the interval preflight projects from what the rehearsal's items reported with `ctx.usage({ usd })`. @default no cap */
    maxCostUsd: z.number().positive().optional(),
    /** Where a run's progress is pushed (a webhook, an S3-compatible bucket): on every change of state and every `everyMinutes`. Not a launch rule: not in the proof, nor its digest. */
    publish: z.array(publishTargetSchema).default([]),
  })
  .strict()
  .refine((p) => p.heartbeatSeconds < 30, {
    message: 'heartbeatSeconds must be below 30 (the owner lease lasts 30 s and each heartbeat renews it)',
  })
  .refine((p) => p.heartbeatSeconds + 2 <= p.progressMaxStaleSeconds, {
    message:
      'heartbeatSeconds must be at least 2 s below progressMaxStaleSeconds (the heartbeat is renewed on a 1 s tick, so it is up to a second older than its interval)',
  })
  .refine((p) => p.progressEverySeconds <= p.progressMaxStaleSeconds, {
    message:
      'progressEverySeconds must not be above progressMaxStaleSeconds (progress would go stale between refreshes)',
  })

export type Policy = z.output<typeof policySchema>
export type PolicyInput = z.input<typeof policySchema>

export interface LoadedPolicy {
  readonly policy: Policy
  /** The config file it came from; null when the defaults apply. */
  readonly source: string | null
  /** sha256 of the launch rules' canonical JSON (publish targets left out): a proof holds only under the rules it was made under. */
  readonly digest: string
}

export const CONFIG_NAMES = ['longhaul.config.ts', 'longhaul.config.mts', 'longhaul.config.js', 'longhaul.config.mjs']

/** The config file nearest above the job file, or null. */
export function findConfig(jobPath: string): string | null {
  for (let dir = dirname(resolve(jobPath)); ; dir = dirname(dir)) {
    for (const name of CONFIG_NAMES) if (existsSync(join(dir, name))) return join(dir, name)
    if (dirname(dir) === dir) return null
  }
}

/** The policy for a job: `configPath` if given, else the nearest config above the job, else the defaults. */
export async function loadPolicy(jobPath: string, configPath?: string): Promise<LoadedPolicy> {
  const source = configPath !== undefined ? resolve(configPath) : findConfig(jobPath)
  if (source === null) return withDigest(policySchema.parse({}), null)
  if (!existsSync(source)) throw new UsageError(`config file ${configPath} does not exist`)
  let raw: unknown
  try {
    raw = (await importCompiled(source)).default
  } catch (error) {
    throw new UsageError(`config file ${source} failed to load: ${(error as Error).message}`, 'LONGHAUL_BAD_USAGE', {
      cause: error,
    })
  }
  if (raw === undefined)
    throw new UsageError(
      `config file ${source} has no default export. End it with 'export default defineConfig({...})'.`,
    )
  const checked = policySchema.safeParse(raw)
  if (!checked.success) {
    throw new UsageError(
      `config file ${source} is not a valid policy:\n${z.prettifyError(checked.error)}\nSee docs/preflight.md for every rule and its default.`,
    )
  }
  return withDigest(checked.data, source)
}

function withDigest(policy: Policy, source: string | null): LoadedPolicy {
  return {
    policy,
    source,
    digest: createHash('sha256')
      .update(canonical(launchRules(policy)))
      .digest('hex'),
  }
}

/** The policy without its publish targets (which may hold secrets, and say nothing about the job's safety). */
export function launchRules(policy: Policy): Omit<Policy, 'publish'> {
  const { publish: _publish, ...rules } = policy
  return rules
}

/** The run settings a `run` asked for, seconds; none may be looser than the policy allows. */
export interface RequestedSettings {
  readonly checkpointEvery?: number
  readonly progressEvery?: number
  readonly stallAfter?: number
}

/** Refuses flags that would break the policy (`--checkpoint-every` above the max lost work, say), naming the rule. */
export function assertWithinPolicy(requested: RequestedSettings, loaded: LoadedPolicy): void {
  const { policy } = loaded
  const where = loaded.source ?? 'the default policy'
  const limits: [number | undefined, number, string, string][] = [
    [requested.checkpointEvery, policy.maxLostWorkSeconds, '--checkpoint-every', 'maxLostWorkSeconds'],
    [requested.progressEvery, policy.progressMaxStaleSeconds, '--progress-every', 'progressMaxStaleSeconds'],
    [requested.stallAfter, policy.stallAfterSeconds, '--stall-after', 'stallAfterSeconds'],
  ]
  for (const [value, limit, flag, rule] of limits) {
    if (value !== undefined && value > limit) {
      throw new UsageError(
        `${flag} ${value} is above the policy's ${rule} (${limit}, ${where}); use at most ${limit}, or change the policy`,
      )
    }
  }
}
