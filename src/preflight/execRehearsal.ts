import { bytes, duration } from '../telemetry/progressText.ts'
import { type DurationProjection, overheadMs, projectDuration } from './estimates.ts'
import type { ExecRunEvidence } from './execRun.ts'
import type { Policy } from './policy.ts'
import type { CheckResult } from './proof.ts'
import { type RehearsalPlan, rehearsalPlan } from './rehearsal.ts'

/** The argument templates through which preflight sets a program's size: an item count, or a share of the target. */
const SIZE_TEMPLATE = /\{(total|fraction)\}/

/** Whether the program's size can be set through its arguments. */
export function hasSizeTemplate(args: readonly string[]): boolean {
  return args.some((arg) => SIZE_TEMPLATE.test(arg))
}

/** The arguments for a run of `total` units, `fraction` of the target: `{total}` and `{fraction}` replaced in each. */
export function sizedArgs(args: readonly string[], total: number, fraction: number): string[] {
  return args.map((arg) => arg.replaceAll('{total}', String(total)).replaceAll('{fraction}', String(fraction)))
}

/** The rehearsal of a program with a size template: the policy's fraction of the target; none without a template. */
export function execRehearsalPlan(args: readonly string[], target: number, policy: Policy): RehearsalPlan | undefined {
  return hasSizeTemplate(args) ? rehearsalPlan(target, policy.rehearsalFraction, 0, undefined) : undefined
}

/** What the rehearsal measured, for the target: its duration (with an interval) and its output bytes. */
export interface ExecProjection {
  /** The target in the program's own units of progress (its reported total, scaled from the rehearsal's size to the target's). */
  readonly targetUnits: number
  readonly duration: DurationProjection
  readonly outputBytes: number
  readonly projectedBytes: number
}

/**
 * The target's duration and output, from the uninterrupted run: its
 * progress over time carried to the target by the estimator map preflight
 * uses (projectDuration), its outputs' bytes scaled by target ÷ its size.
 * Without a rehearsal (no size template) it ran at the target's size: its
 * own duration and bytes are the figures.
 */
export function projectExec(run: ExecRunEvidence, target: number, plan: RehearsalPlan | undefined): ExecProjection {
  const size = plan?.items ?? target
  const scale = target / size
  const timeline = run.timeline ?? []
  const units = run.reportedTotal ?? size
  const targetUnits = Math.round(units * scale)
  const outputBytes = run.outputs.reduce((sum, f) => sum + f.bytes, 0)
  const overhead = overheadMs(run.durationMs, timeline)
  return {
    targetUnits,
    duration: projectDuration(timeline, targetUnits, overhead === undefined ? [] : [overhead]),
    outputBytes,
    projectedBytes: outputBytes * scale,
  }
}

/** The rehearsal check of `preflight --exec`: the projection, or plainly why there was no rehearsal. */
export function execRehearsalCheck(
  run: ExecRunEvidence,
  target: number,
  plan: RehearsalPlan | undefined,
  projection: ExecProjection,
): CheckResult {
  const d = projection.duration
  const completed = run.state === 'complete'
  const failures =
    plan && !completed ? [`rehearsal: the rehearsal of ${plan.items} must complete — it ended ${run.state}`] : []
  const projected =
    d.seconds === null || d.low === null || d.high === null
      ? `no projection of its duration: its progress moved too few times to measure a pace`
      : `the target (${projection.targetUnits.toLocaleString('en-US')} of its units) projects to ${duration(d.seconds)} (${duration(d.low)} – ${duration(d.high)})`
  const evidence = plan
    ? `${plan.items.toLocaleString('en-US')} (${(plan.fraction * 100).toFixed(1)}% of the target ${target.toLocaleString('en-US')}) in ${duration(run.durationMs / 1000)}; ${projected}; outputs ${bytes(projection.outputBytes)} → ${bytes(projection.projectedBytes)} at the target`
    : `no rehearsal was possible: the command has no {total} or {fraction} argument, so preflight cannot set its size; its runs were of the command as given (the full ${target.toLocaleString('en-US')}), the uninterrupted one taking ${duration(run.durationMs / 1000)} and writing ${bytes(projection.outputBytes)}`
  return {
    id: 'rehearsal',
    title: 'Rehearsal',
    passed: failures.length === 0,
    evidence: completed ? evidence : (failures[0] ?? evidence),
    failures,
    measurements: {
      rehearsed: plan !== undefined,
      items: plan?.items ?? null,
      fraction: plan?.fraction ?? null,
      wallMs: run.durationMs,
      unit: 'units',
      targetUnits: projection.targetUnits,
      ...(plan && {
        projectedSeconds: d.seconds,
        projectedLowSeconds: d.low,
        projectedHighSeconds: d.high,
        fixedPartSeconds: d.overheadSeconds,
      }),
      outputBytes: projection.outputBytes,
      projectedOutputBytes: projection.projectedBytes,
    },
  }
}
