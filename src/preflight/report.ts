import { join } from 'node:path'
import { writeFileAtomic } from '../files/atomicFile.ts'
import { bytes, duration } from '../telemetry/progressText.ts'
import type { ProofStatement } from './proof.ts'

export const REPORT_FILE = 'PREFLIGHT.md'
export const JUNIT_FILE = 'preflight.junit.xml'

interface ReportContext {
  readonly jobPath: string
  readonly outDir: string
  readonly fingerprint: string
  readonly policySource: string
  /** The `run` command the proof covers (see runCommandLine). */
  readonly runCommand: string
}

/** Writes PREFLIGHT.md (for people) and JUnit XML (for CI) beside the proof. */
export function writeReports(
  proofsDir: string,
  statement: ProofStatement,
  context: ReportContext,
): { reportPath: string; junitPath: string } {
  writeFileAtomic(proofsDir, REPORT_FILE, [Buffer.from(markdown(statement, context))])
  writeFileAtomic(proofsDir, JUNIT_FILE, [Buffer.from(junit(statement))])
  return { reportPath: join(proofsDir, REPORT_FILE), junitPath: join(proofsDir, JUNIT_FILE) }
}

export function markdown(statement: ProofStatement, context: ReportContext): string {
  const p = statement.predicate
  const cell = (text: string): string => text.replace(/\|/g, '\\|').replace(/\n/g, ' ')
  const failed = p.checks.filter((c) => !c.passed)
  const projected = projectedLine(statement)
  const lines = [
    `# Preflight ${p.verdict}: ${p.job}`,
    '',
    `- Job: \`${context.jobPath}\` (fingerprint \`${context.fingerprint}\`)`,
    `- Target: ${p.target.toLocaleString('en-US')} items, seed ${p.seed}, params \`${JSON.stringify(p.params)}\``,
    `- Policy: ${context.policySource} (digest \`${p.policy.digest.slice(0, 16)}…\`)`,
    `- longhaul ${p.longhaulVersion}${p.gitCommit ? `, git ${p.gitCommit}` : ''}; ${p.startedAt} → ${p.finishedAt}`,
    ...(projected ? [`- Projected duration: ${projected}`] : []),
    `- ${p.verdict === 'PASSED' ? `Valid until ${p.expiresAt} for runs of up to ${p.target.toLocaleString('en-US')} items: \`${context.runCommand}\`` : 'Not valid for launch: fix what failed below and run preflight again.'}`,
    '',
    '## Policy',
    '',
    '| rule | value | proved by | | evidence |',
    '|---|---|---|---|---|',
    ...p.rules.map(
      (r) => `| ${r.rule} | ${JSON.stringify(r.value)} | ${r.check} | ${r.passed ? '✔' : '✘'} | ${cell(r.evidence)} |`,
    ),
    '',
    '## Checks',
    '',
    ...p.checks.flatMap((c) => [
      `### ${c.passed ? '✔' : '✘'} ${c.title}`,
      '',
      c.evidence,
      '',
      ...c.failures.map((f) => `- **${f}**`),
      ...(c.failures.length ? [''] : []),
    ]),
    ...(failed.length ? ['## What to fix', '', ...failed.flatMap((c) => c.failures.map((f) => `- ${f}`)), ''] : []),
  ]
  return lines.join('\n')
}

/** "1m10s (55s – 1m40s) for 2,000 items on 2 workers, start-up included", from the rehearsal's measurements; undefined when there is none. */
export function projectedLine(statement: ProofStatement): string | undefined {
  const m = statement.predicate.checks.find((c) => c.id === 'rehearsal')?.measurements
  const [seconds, low, high] = [m?.projectedSeconds, m?.projectedLowSeconds, m?.projectedHighSeconds]
  if (typeof seconds !== 'number' || typeof low !== 'number' || typeof high !== 'number') return undefined
  const workers = typeof m?.workers === 'number' ? ` on ${m.workers} worker${m.workers === 1 ? '' : 's'}` : ''
  const unit = typeof m?.unit === 'string' ? m.unit : typeof m?.workers === 'number' ? 'items' : 'steps'
  const units = typeof m?.targetUnits === 'number' ? m.targetUnits : statement.predicate.target
  const bytesAt = typeof m?.projectedOutputBytes === 'number' ? `; outputs ${bytes(m.projectedOutputBytes)}` : ''
  return `${duration(seconds)} (${duration(low)} – ${duration(high)}) for ${units.toLocaleString('en-US')} ${unit}${workers}, start-up included${bytesAt}`
}

export function junit(statement: ProofStatement): string {
  const p = statement.predicate
  const failures = p.checks.filter((c) => !c.passed).length
  const seconds = (Date.parse(p.finishedAt) - Date.parse(p.startedAt)) / 1000
  const cases = p.checks.map((c) => {
    const open = `  <testcase classname="longhaul.preflight.${xml(p.job)}" name="${xml(c.title)}">`
    const body = c.passed
      ? `    <system-out>${xml(c.evidence)}</system-out>`
      : `    <failure message="${xml(c.failures[0] ?? c.evidence)}">${xml(c.failures.join('\n'))}</failure>`
    return [open, body, '  </testcase>'].join('\n')
  })
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuite name="longhaul preflight ${xml(p.job)}" tests="${p.checks.length}" failures="${failures}" errors="0" time="${seconds.toFixed(3)}" timestamp="${p.startedAt}">`,
    ...cases,
    '</testsuite>',
    '',
  ].join('\n')
}

function xml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;')
}
