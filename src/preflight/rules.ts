import type { Policy } from './policy.ts'
import type { CheckId, CheckResult, RuleResult } from './proof.ts'

/** Which check proves each rule of the policy. */
const PROVEN_BY: Record<Exclude<keyof Policy, 'publish'>, CheckId | 'config'> = {
  maxLostWorkSeconds: 'checkpoint-cadence',
  progressMaxStaleSeconds: 'progress-freshness',
  progressEverySeconds: 'progress-freshness',
  heartbeatSeconds: 'progress-freshness',
  stallAfterSeconds: 'progress-freshness',
  rehearsalFraction: 'rehearsal',
  diskMargin: 'disk',
  requireProofAbove: 'config',
  proofValidDays: 'config',
  crashKills: 'crash-resume',
  crashItems: 'crash-resume',
  maxMemoryGrowthMiB: 'memory',
  requireValidators: 'validation',
  maxInvalidFraction: 'validation',
  maxCostUsd: 'rehearsal',
}

type Measured = Readonly<Record<string, unknown>>

/** Evidence for rules whose check proves several rules at once; the others use their check's own line. */
const EVIDENCE: Partial<Record<keyof Policy, (policy: Policy, m: Measured) => string>> = {
  requireProofAbove: (p) => `enforced by \`longhaul run\`: more than ${p.requireProofAbove} items needs this proof`,
  proofValidDays: (p) => `the proof expires ${p.proofValidDays} days after it was made`,
  progressMaxStaleSeconds: (p, m) =>
    `progress.json at most ${num(m.maxStaleSeconds)} s old in ${m.samples} samples over every run (allowed ${p.progressMaxStaleSeconds} s)`,
  progressEverySeconds: (p, m) =>
    `every run refreshed its progress files at least every ${p.progressEverySeconds} s; ${(m.missingFields as string[] | undefined)?.length ? `missing ${(m.missingFields as string[]).join(', ')}` : 'every required field present'}; final state ${m.finalState}`,
  heartbeatSeconds: (p, m) =>
    `heartbeat at most ${num(m.maxHeartbeatAgeSeconds)} s old (moves every ${p.heartbeatSeconds} s)`,
  stallAfterSeconds: (p) => `every run reported stallAfterSeconds ${p.stallAfterSeconds} in progress.json`,
  crashItems: (_p, m) => `${m.items} items per crash/resume run`,
  requireValidators: (p, m) =>
    p.requireValidators
      ? `required; the job ${m.declared ? 'declares' : 'does not declare'} validate(record)`
      : 'not required',
  rehearsalFraction: (_p, m) =>
    `${m.items} items, ${((m.fraction as number) * 100).toFixed(2)}% of the target${m.scaledDown ? ` — ${m.scaledDown}` : ''}`,
  maxCostUsd: (p, m) => {
    const high = (m.projectedUsageHigh as Record<string, number> | undefined)?.usd
    if (p.maxCostUsd === undefined) return 'no cap'
    if (!('maxCostUsd' in m)) return 'not judged: a loop reports no usage'
    return high === undefined
      ? `capped at $${p.maxCostUsd}; the rehearsal's items reported no cost (ctx.usage({ usd }))`
      : `at most $${high.toFixed(2)} projected (upper bound) against a cap of $${p.maxCostUsd}`
  },
  crashKills: (_p, m) => `${m.kills ?? 0} SIGKILLs (${m.killsAtCommit ?? 0} at a commit) over ${m.lives ?? 0} lives`,
}

/** Rules met or not on their own, whatever else their check found. */
const MET: Partial<Record<keyof Policy, (policy: Policy, m: Measured) => boolean>> = {
  requireValidators: (p, m) => !p.requireValidators || m.declared === true,
  // Settings of the suite itself: met when the suite ran with them, whatever the job's result.
  crashItems: (_p, m) => typeof m.items === 'number' && m.items > 0,
  crashKills: (p, m) => typeof m.kills === 'number' && m.kills >= p.crashKills,
  // The freshness check proves four rules; each is judged on its own measurement.
  progressMaxStaleSeconds: (p, m) =>
    typeof m.maxStaleSeconds === 'number' && m.samples !== 0 && m.maxStaleSeconds <= p.progressMaxStaleSeconds,
  heartbeatSeconds: (p, m) =>
    typeof m.maxHeartbeatAgeSeconds === 'number' && m.maxHeartbeatAgeSeconds <= p.progressMaxStaleSeconds,
  stallAfterSeconds: (_p, m) => m.settingsAsPolicy === true,
  maxCostUsd: (p, m) => {
    const high = (m.projectedUsageHigh as Record<string, number> | undefined)?.usd
    // A loop's rehearsal check carries no cost: the rule is not judged there.
    return p.maxCostUsd === undefined || !('maxCostUsd' in m) || (high !== undefined && high <= p.maxCostUsd)
  },
}

function num(value: unknown): string {
  return typeof value === 'number' ? value.toFixed(1) : '?'
}

/** The heart of the report: every rule, its value, the check that proves it and that check's evidence. */
export function policyRules(policy: Policy, checks: readonly CheckResult[]): RuleResult[] {
  return (Object.keys(PROVEN_BY) as (keyof typeof PROVEN_BY)[]).map((rule) => {
    const proof = PROVEN_BY[rule]
    const check = checks.find((c) => c.id === proof)
    const evidence = EVIDENCE[rule]
    if (proof === 'config')
      return { rule, value: policy[rule] ?? null, check: proof, passed: true, evidence: evidence!(policy, {}) }
    if (!check) return { rule, value: policy[rule] ?? null, check: proof, passed: false, evidence: 'no check ran' }
    const passed = MET[rule]?.(policy, check.measurements) ?? check.passed
    return {
      rule,
      value: policy[rule] ?? null,
      check: proof,
      passed,
      evidence: evidence ? evidence(policy, check.measurements) : check.evidence,
    }
  })
}
