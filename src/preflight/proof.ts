import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { writeFileAtomic } from '../files/atomicFile.ts'
import type { JobIdentity } from '../job/fingerprint.ts'
import type { Policy } from './policy.ts'

/**
 * The proof bundle (DESIGN §2): an in-toto Statement v1 whose subject is the
 * job fingerprint and whose predicate holds the verdict, every check with its
 * measurements, the policy's digest, the tool version, the git commit and the
 * times. One JSON line per file, in `DIR/proofs/<job>-<fingerprint>.intoto.jsonl`.
 */

export const STATEMENT_TYPE = 'https://in-toto.io/Statement/v1'
export const PREDICATE_TYPE = 'https://longhaul.dev/preflight/v1'

export type CheckId =
  | 'crash-resume'
  | 'checkpoint-cadence'
  | 'progress-freshness'
  | 'rehearsal'
  | 'disk'
  | 'memory'
  | 'validation'

/** One check of the conformance suite and what it measured. */
export interface CheckResult {
  readonly id: CheckId
  readonly title: string
  readonly passed: boolean
  /** One line of evidence, for the report's table. */
  readonly evidence: string
  /** What broke, each naming the requirement; empty when it passed. */
  readonly failures: readonly string[]
  readonly measurements: Readonly<Record<string, unknown>>
}

/** One rule of the policy, the check that proves it and the evidence. */
export interface RuleResult {
  readonly rule: Exclude<keyof Policy, 'publish'>
  readonly value: unknown
  readonly check: CheckId | 'config'
  readonly passed: boolean
  readonly evidence: string
}

export interface PreflightPredicate {
  readonly verdict: 'PASSED' | 'FAILED'
  readonly job: string
  readonly target: number
  readonly params: unknown
  readonly seed: number
  /** What the fingerprint was made of (the hash of every file of the job's code, …): a later refusal names what changed since. Absent in proofs made before it was recorded. */
  readonly identity?: JobIdentity
  readonly checks: readonly CheckResult[]
  readonly rules: readonly RuleResult[]
  readonly policy: { readonly source: string | null; readonly digest: string; readonly values: Omit<Policy, 'publish'> }
  readonly longhaulVersion: string
  readonly gitCommit: string | null
  readonly startedAt: string
  readonly finishedAt: string
  readonly expiresAt: string
}

export interface ProofStatement {
  readonly _type: typeof STATEMENT_TYPE
  readonly subject: readonly [{ readonly name: string; readonly digest: { readonly sha256: string } }]
  readonly predicateType: typeof PREDICATE_TYPE
  readonly predicate: PreflightPredicate
}

/** A passing proof's file; a failing one is kept beside it (`.failed`), so it never replaces a proof that holds. */
export function proofFileName(job: string, fingerprint: string, verdict: 'PASSED' | 'FAILED' = 'PASSED'): string {
  return `${job}-${fingerprint}${verdict === 'FAILED' ? '.failed' : ''}.intoto.jsonl`
}

export function makeStatement(fingerprint: string, predicate: PreflightPredicate): ProofStatement {
  return {
    _type: STATEMENT_TYPE,
    subject: [{ name: predicate.job, digest: { sha256: fingerprint } }],
    predicateType: PREDICATE_TYPE,
    predicate,
  }
}

/** Writes the statement atomically into `proofsDir`; returns its path. */
export function writeProof(proofsDir: string, statement: ProofStatement): string {
  mkdirSync(proofsDir, { recursive: true })
  const name = proofFileName(statement.predicate.job, statement.subject[0].digest.sha256, statement.predicate.verdict)
  writeFileAtomic(proofsDir, name, [Buffer.from(`${JSON.stringify(statement)}\n`)])
  return join(proofsDir, name)
}

/** The proof for this job and fingerprint in `proofsDir`: the statement, 'none', or why it cannot be read. */
export function readProof(
  proofsDir: string,
  job: string,
  fingerprint: string,
  verdict: 'PASSED' | 'FAILED' = 'PASSED',
): ProofStatement | 'none' | { readonly unreadable: string } {
  const path = join(proofsDir, proofFileName(job, fingerprint, verdict))
  if (!existsSync(path)) return 'none'
  try {
    const statement = JSON.parse(readFileSync(path, 'utf8').split('\n')[0]!) as ProofStatement
    if (
      statement._type !== STATEMENT_TYPE ||
      statement.predicateType !== PREDICATE_TYPE ||
      statement.subject?.[0]?.digest?.sha256 !== fingerprint
    ) {
      return { unreadable: `${path} is not a longhaul preflight statement for fingerprint ${fingerprint}` }
    }
    return statement
  } catch (error) {
    return { unreadable: `${path} cannot be read: ${(error as Error).message}` }
  }
}

/** The newest passing proof of job `job` in `proofsDir` that records its identity, whatever its fingerprint; undefined when there is none. */
export function newestProofOf(proofsDir: string, job: string): ProofStatement | undefined {
  if (!existsSync(proofsDir)) return undefined
  const name = new RegExp(`^${job.replace(/[.]/g, '\\.')}-([0-9a-f]{64})\\.intoto\\.jsonl$`)
  let newest: ProofStatement | undefined
  for (const file of readdirSync(proofsDir)) {
    const fingerprint = name.exec(file)?.[1]
    if (!fingerprint) continue
    const found = readProof(proofsDir, job, fingerprint)
    if (found === 'none' || 'unreadable' in found || !found.predicate.identity) continue
    if (!newest || found.predicate.finishedAt > newest.predicate.finishedAt) newest = found
  }
  return newest
}
