import { join } from 'node:path'
import { GateRefusedError, type GateRequirement } from '../errors.ts'
import { runPaths } from '../files/runDir.ts'
import { changedFiles, describeChanges } from '../job/fingerprint.ts'
import type { LaunchFacts, LaunchGate } from '../run/identify.ts'
import { count } from '../telemetry/progressText.ts'
import type { LaunchClearance } from '../telemetry/snapshot.ts'
import type { LoadedPolicy } from './policy.ts'
import { newestProofOf, proofFileName, readProof } from './proof.ts'

export interface GateOptions {
  readonly policy: LoadedPolicy
  /** --skip-preflight: run anyway; the waiver is recorded. */
  readonly skip: boolean
  /** The preflight command that would prove this run, as the user should type it. */
  readonly preflightCommand: (facts: LaunchFacts) => string
  readonly now?: () => number
}

/**
 * The launch gate (invariant gate): a run of more items than the policy's
 * `requireProofAbove` starts only with a passing, unexpired proof for the
 * same fingerprint, made under the same policy, for a target ≥ its total.
 */
export function launchGate(options: GateOptions): LaunchGate {
  const { policy } = options.policy
  return async (facts: LaunchFacts): Promise<LaunchClearance> => {
    // The clearance names the policy it was decided under: a run let through by a looser --config says so.
    const under = options.policy.source ?? 'the default policy'
    if (facts.total <= policy.requireProofAbove)
      return { status: 'not-required', limit: policy.requireProofAbove, policy: under }
    if (options.skip)
      return {
        status: 'waived',
        reason: `--skip-preflight at ${count(facts.total)} items, above the policy's ${count(policy.requireProofAbove)}`,
        policy: under,
      }
    const now = (options.now ?? Date.now)()
    const proofs = runPaths(facts.outDir).proofs
    const shown = join(facts.outDir, 'proofs')
    const found = readProof(proofs, facts.job, facts.fingerprint)
    const requirements: GateRequirement[] = []
    if (found === 'none' || 'unreadable' in found) {
      requirements.push({
        met: false,
        text: found === 'none' ? noPassingProof(proofs, shown, facts) : found.unreadable,
      })
    } else {
      const p = found.predicate
      requirements.push(
        { met: true, text: `a proof for this exact job: ${shown}/${proofFileName(facts.job, facts.fingerprint)}` },
        {
          met: p.verdict === 'PASSED',
          text:
            p.verdict === 'PASSED'
              ? 'its verdict is PASSED'
              : `its verdict is PASSED — it is ${p.verdict}: ${p.checks
                  .filter((c) => !c.passed)
                  .map((c) => c.title)
                  .join(', ')} failed`,
        },
        {
          met: p.target >= facts.total,
          text: `its target covers this run (proved for ${count(p.target)} items, this run has ${count(facts.total)})`,
        },
        { met: Date.parse(p.expiresAt) > now, text: `it has not expired (valid until ${p.expiresAt})` },
        {
          met: p.policy.digest === options.policy.digest,
          text: `it was made under the current policy${p.policy.digest === options.policy.digest ? '' : ' — the policy changed since'}`,
        },
      )
      if (requirements.every((r) => r.met))
        return {
          status: 'proved',
          proof: proofFileName(facts.job, facts.fingerprint),
          target: p.target,
          expiresAt: p.expiresAt,
          policy: under,
        }
    }
    throw new GateRefusedError(
      `${count(facts.total)} items is above the policy's requireProofAbove (${count(policy.requireProofAbove)}${options.policy.source ? `, ${options.policy.source}` : ', the default'}), and no passing proof covers this run.`,
      requirements,
      options.preflightCommand(facts),
    )
  }
}

/** Why there is no passing proof: the last preflight failed (and what), or there was none for this fingerprint. */
function noPassingProof(proofs: string, shown: string, facts: LaunchFacts): string {
  const failed = readProof(proofs, facts.job, facts.fingerprint, 'FAILED')
  if (failed !== 'none' && !('unreadable' in failed)) {
    const broken = failed.predicate.checks
      .filter((c) => !c.passed)
      .map((c) => c.title)
      .join(', ')
    return `a passing proof for this exact job in ${shown}/ — its last preflight FAILED: ${broken} (see ${shown}/PREFLIGHT.md)`
  }
  const since = facts.identity ? changesSinceProof(proofs, facts) : undefined
  if (since)
    return `a proof for this exact job (fingerprint ${facts.fingerprint.slice(0, 12)}…) in ${shown}/ — none: ${since}; run preflight again to prove the job as it is now`
  return `a proof for this exact job (fingerprint ${facts.fingerprint.slice(0, 12)}…) in ${shown}/ — none: no preflight yet, or the job's code, params, seed or dependencies changed since`
}

/** What changed between the newest proof of this job (another fingerprint) and the job as it is now, in words; undefined when there is no such proof. */
function changesSinceProof(proofs: string, facts: LaunchFacts): string | undefined {
  const proof = newestProofOf(proofs, facts.job)
  if (!proof?.predicate.identity || !facts.identity) return undefined
  const files = changedFiles(proof.predicate.identity, facts.identity)
  const others = describeChanges(proof.predicate.identity, facts.identity).filter(
    (change) => !change.startsWith('job code changed'),
  )
  const changes = [...(files.length ? [`${files.join(', ')} changed`] : []), ...others]
  return `${changes.length ? changes.join('; ') : 'the job differs'} since the proof of ${proof.predicate.finishedAt} (${proofFileName(facts.job, proof.subject[0].digest.sha256)})`
}
