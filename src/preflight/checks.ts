import { bytes, duration } from '../telemetry/progressText.ts'
import type { ChildRunResult, ProgressSample } from './childRun.ts'
import { type CostProjection, costOverCap, costText } from './cost.ts'
import { type DurationProjection, type MemoryPoint, memoryGrowth } from './estimates.ts'
import type { Policy } from './policy.ts'
import type { CheckResult } from './proof.ts'
import type { RehearsalPlan } from './rehearsal.ts'

const MiB = 1024 * 1024

/**
 * Invariant bounded-loss at the target: a crash loses at most the time since
 * the last commit. Every worker commits at least every `checkpointEvery`, and
 * an item cannot be cut, so the worst case is the interval plus the slowest
 * item; the commits the rehearsal actually made are reported beside it.
 */
export function checkCadence(o: {
  policy: Policy
  checkpointEveryMs: number
  runs: readonly ChildRunResult[]
  commitTimes: readonly number[]
  startedAt: number | undefined
}): CheckResult {
  const slowestItemMs = Math.max(0, ...o.runs.map((r) => r.summary?.slowestItemMs ?? 0))
  const worstSeconds = (o.checkpointEveryMs + slowestItemMs) / 1000
  const gaps = o.commitTimes.slice(1).map((t, i) => (t - o.commitTimes[i]!) / 1000)
  const observedMax = gaps.length ? Math.max(...gaps) : null
  const passed = worstSeconds <= o.policy.maxLostWorkSeconds
  const failures: string[] = []
  if (!passed) {
    failures.push(
      `bounded-loss: a crash at the target could lose ${duration(worstSeconds)} of work (the job commits every ${duration(o.checkpointEveryMs / 1000)}` +
        `${slowestItemMs >= 1000 ? `, its slowest item took ${duration(slowestItemMs / 1000)}` : ''}); the policy allows ${duration(o.policy.maxLostWorkSeconds)}. ` +
        `Lower the job's checkpointEvery${slowestItemMs / 1000 > o.policy.maxLostWorkSeconds / 2 ? ' and split its slowest items' : ''}.`,
    )
  }
  return {
    id: 'checkpoint-cadence',
    title: 'Checkpoint cadence',
    passed,
    evidence: `worst-case lost work ${duration(worstSeconds)} (checkpointEvery ${duration(o.checkpointEveryMs / 1000)} + slowest item ${slowestItemMs} ms) vs ${duration(o.policy.maxLostWorkSeconds)} allowed${o.commitTimes.length ? `; ${o.commitTimes.length} commits in the rehearsal${observedMax === null ? '' : `, at most ${observedMax.toFixed(1)} s apart`}` : ''}`,
    failures,
    measurements: {
      checkpointEveryMs: o.checkpointEveryMs,
      slowestItemMs,
      worstLostWorkSeconds: worstSeconds,
      rehearsalCommits: o.commitTimes.length,
      observedMaxCommitGapSeconds: observedMax,
    },
  }
}

/**
 * Invariant fresh-progress: progress.json sampled while every run lived is
 * never older than the policy allows, carries every required field, and says
 * COMPLETE (file and PROGRESS.txt) when the run has finished.
 */
export function checkFreshness(o: {
  policy: Policy
  runs: readonly ChildRunResult[]
  finalRun: ChildRunResult
}): CheckResult {
  const live = o.runs.flatMap((r) => r.samples).filter((s) => s.state === 'running' || s.state === 'stalled')
  const maxStale = Math.max(0, ...live.map((s) => s.staleSeconds))
  const maxHeartbeatAge = Math.max(0, ...live.map((s) => s.heartbeatAgeSeconds))
  const missing = [...new Set(o.runs.flatMap((r) => r.samples).flatMap((s) => s.missingFields))]
  const failures: string[] = []
  if (live.length === 0) failures.push('fresh-progress: progress.json was never seen while a run lived')
  if (maxStale > o.policy.progressMaxStaleSeconds)
    failures.push(
      `fresh-progress: progress.json was ${maxStale.toFixed(1)} s old while the run lived; the policy allows ${o.policy.progressMaxStaleSeconds} s`,
    )
  if (maxHeartbeatAge > o.policy.progressMaxStaleSeconds)
    failures.push(
      `fresh-progress: the heartbeat was ${maxHeartbeatAge.toFixed(1)} s old; the policy allows ${o.policy.progressMaxStaleSeconds} s`,
    )
  if (missing.length) failures.push(`fresh-progress: progress.json lacks required fields: ${missing.join(', ')}`)
  const final = o.finalRun.finalSnapshot
  if (final?.state !== 'complete' || o.finalRun.finalTextState !== 'COMPLETE') {
    failures.push(
      `fresh-progress: after the rehearsal finished, progress.json says '${final?.state ?? 'nothing'}' and PROGRESS.txt '${o.finalRun.finalTextState ?? 'nothing'}', not complete`,
    )
  }
  const settingsWrong = live.filter(
    (s) => s.refreshSeconds !== o.policy.progressEverySeconds || s.stallAfterSeconds !== o.policy.stallAfterSeconds,
  )
  if (settingsWrong.length)
    failures.push(
      `the runs did not use the policy's progressEverySeconds (${o.policy.progressEverySeconds}) and stallAfterSeconds (${o.policy.stallAfterSeconds})`,
    )
  return {
    id: 'progress-freshness',
    title: 'Progress freshness',
    passed: failures.length === 0,
    evidence: `${live.length} samples of progress.json over ${o.runs.length} runs: at most ${maxStale.toFixed(1)} s old (allowed ${o.policy.progressMaxStaleSeconds} s), heartbeat at most ${maxHeartbeatAge.toFixed(1)} s old; ${missing.length ? `missing ${missing.join(', ')}` : 'every required field present'}; final state ${final?.state ?? 'none'}`,
    failures,
    measurements: {
      samples: live.length,
      maxStaleSeconds: maxStale,
      maxHeartbeatAgeSeconds: maxHeartbeatAge,
      missingFields: missing,
      finalState: final?.state ?? null,
      finalTextState: o.finalRun.finalTextState,
      settingsAsPolicy: settingsWrong.length === 0,
    },
  }
}

/** The rehearsal itself: it must complete; it projects the target's duration, on its worker count, with an interval. */
export function checkRehearsal(o: {
  rehearsal: ChildRunResult
  plan: RehearsalPlan
  target: number
  workers: number | undefined
  projection: DurationProjection
  failure: string | undefined
  /** What the target will use and cost (map jobs), and the policy's cap on it. */
  cost?: CostProjection | undefined
  maxCostUsd?: number | undefined
}): CheckResult {
  const summary = o.rehearsal.summary
  const { projection } = o
  const unit = o.workers === undefined ? 'steps' : 'items'
  const overCap = o.failure ? undefined : costOverCap(o.cost, o.maxCostUsd, o.target)
  const failures = [
    ...(o.failure ? [`the rehearsal of ${o.plan.items} items did not complete: ${o.failure}`] : []),
    ...(overCap ? [overCap] : []),
  ]
  const costed = o.cost || o.maxCostUsd !== undefined ? `; ${costText(o.cost)}` : ''
  return {
    id: 'rehearsal',
    title: 'Rehearsal',
    passed: failures.length === 0,
    evidence: summary
      ? `${o.plan.items.toLocaleString('en-US')} ${unit} (${(o.plan.fraction * 100).toFixed(1)}% of the target) in ${duration(summary.wallMs / 1000)} at ${Math.round(summary.itemsPerSecond)} ${unit}/s; ${projectionText(projection, o.target, o.workers)}${costed}${o.plan.note ? `; ${o.plan.note}` : ''}`
      : failures[0]!,
    failures,
    measurements: {
      items: o.plan.items,
      fraction: o.plan.fraction,
      scaledDown: o.plan.note ?? null,
      wallMs: summary?.wallMs ?? null,
      itemsPerSecond: summary?.itemsPerSecond ?? null,
      workers: o.workers,
      projectedSeconds: projection.seconds,
      projectedLowSeconds: projection.low,
      projectedHighSeconds: projection.high,
      fixedPartSeconds: projection.overheadSeconds,
      ...(o.cost && {
        usagePerItem: o.cost.perItem,
        projectedUsage: o.cost.projected,
        projectedUsageLow: o.cost.low,
        projectedUsageHigh: o.cost.high,
      }),
      // Present for a map job's rehearsal only: a loop reports no usage, and its rules do not judge the cap.
      ...('maxCostUsd' in o && { maxCostUsd: o.maxCostUsd ?? null }),
    },
  }
}

/**
 * "the target (N items on W workers) projects to 12m00s (10m30s – 15m00s), of
 * which 2s start-up and wrap-up", or why there is none. `workers` undefined: a
 * loop, whose steps run one after another.
 */
export function projectionText(projection: DurationProjection, target: number, workers: number | undefined): string {
  const on =
    workers === undefined
      ? `${target.toLocaleString('en-US')} steps`
      : `${target.toLocaleString('en-US')} items on ${workers} worker${workers === 1 ? '' : 's'}`
  if (projection.seconds === null || projection.low === null || projection.high === null)
    return `no projection for ${on}: the rehearsal committed too few times to measure a pace`
  const fixed = projection.overheadSeconds
    ? `, of which ${duration(projection.overheadSeconds.median)} start-up and wrap-up`
    : ''
  return `the target (${on}) projects to ${duration(projection.seconds)} (${duration(projection.low)} – ${duration(projection.high)})${fixed}`
}

/** The projected output of a map job's rehearsal, times the policy's margin, must fit in the free disk. */
export function checkDisk(o: {
  policy: Policy
  rehearsal: ChildRunResult
  target: number
  freeBytes: number
}): CheckResult {
  const summary = o.rehearsal.summary
  if (!summary || summary.committedThisSession === 0) {
    return {
      id: 'disk',
      title: 'Disk space',
      passed: false,
      evidence: 'not measured: the rehearsal did not complete',
      failures: ['disk: not measured, the rehearsal did not complete'],
      measurements: {},
    }
  }
  const bytesPerItem = summary.bytesWritten / summary.committedThisSession
  return diskFits({ policy: o.policy, projectedBytes: bytesPerItem * o.target, freeBytes: o.freeBytes, bytesPerItem })
}

/**
 * The projected output, times the policy's margin, must fit in the free disk where it will be written (map jobs
 * and supervised programs alike; the free space may be unknown, which passes).
 */
export function diskFits(o: {
  policy: Policy
  projectedBytes: number
  freeBytes: number | undefined
  bytesPerItem?: number
}): CheckResult {
  const { projectedBytes: projected, freeBytes: free, bytesPerItem } = o
  const margin = o.policy.diskMargin
  const needed = projected * margin
  const passed = free === undefined || needed <= free
  const from = bytesPerItem === undefined ? 'output' : `${bytes(bytesPerItem)} per item →`
  return {
    id: 'disk',
    title: 'Disk space',
    passed,
    evidence: `${from} ${bytes(projected)} at the target, × ${margin} margin = ${bytes(needed)}${free === undefined ? '' : ` vs ${bytes(free)} free`}`,
    failures: passed
      ? []
      : [
          `disk: the output would not fit: ${bytes(projected)} projected × ${margin} margin = ${bytes(needed)}, only ${bytes(free!)} free. Free space, write elsewhere, or lower the target.`,
        ],
    measurements: {
      ...(bytesPerItem !== undefined && { bytesPerItem }),
      projectedBytes: projected,
      neededBytes: needed,
      freeBytes: free ?? null,
      margin,
    },
  }
}

/** Invariant bounded-memory: what the workers retain must not grow with items (a smaller run against the rehearsal). */
export function checkMemory(o: {
  policy: Policy
  small: MemoryPoint
  rehearsal: MemoryPoint
  rehearsalSamples: readonly ProgressSample[]
  target: number
}): CheckResult {
  const growth = memoryGrowth(o.small, o.rehearsal, o.target)
  const limit = o.policy.maxMemoryGrowthMiB * MiB
  const passed = growth.projectedGrowthBytes === null || growth.projectedGrowthBytes <= limit
  const at = (p: MemoryPoint): string => `${bytes(p.retainedBytes ?? 0)} at ${p.items.toLocaleString('en-US')} items`
  const evidence =
    growth.bytesPerItem === null
      ? `not measurable: the rehearsal (${o.rehearsal.items} items) is not ${3}× the small run (${o.small.items})${o.rehearsal.retainedBytes === null ? ', or memory could not be read' : ''}`
      : `retained memory ${at(growth.smaller)}, ${at(growth.larger)}: ${bytes(Math.max(0, growth.bytesPerItem))} per item → +${bytes(growth.projectedGrowthBytes ?? 0)} by the target (allowed ${o.policy.maxMemoryGrowthMiB} MiB)`
  return {
    id: 'memory',
    title: 'Memory over time',
    passed,
    evidence,
    failures: passed
      ? []
      : [
          `bounded-memory: memory grows with items (${bytes(growth.bytesPerItem ?? 0)} per item, ${at(growth.smaller)} vs ${at(growth.larger)}): ${bytes(growth.projectedGrowthBytes ?? 0)} more by the target, the policy allows ${o.policy.maxMemoryGrowthMiB} MiB. Something keeps every item (a list of results, a cache without a bound): let the items go once returned.`,
        ],
    // Resident memory over the rehearsal's life, for the report's reader (garbage included, so not the verdict).
    measurements: {
      ...growth,
      rehearsalRssOverTime: thin(
        o.rehearsalSamples.filter((s) => s.rssBytes !== null).map((s) => ({ done: s.done, rssBytes: s.rssBytes })),
        20,
      ),
    },
  }
}

/** At most `n` evenly spaced elements of `list`, the last included. */
function thin<T>(list: readonly T[], n: number): T[] {
  if (list.length <= n) return [...list]
  return Array.from({ length: n }, (_, i) => list[Math.round(((i + 1) * (list.length - 1)) / n)]!)
}
