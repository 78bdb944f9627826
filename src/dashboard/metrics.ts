import type { ProgressState } from '../telemetry/snapshot.ts'
import type { RunItem } from './runs.ts'

const STATES: readonly (ProgressState | 'not_running')[] = [
  'running',
  'stalled',
  'complete',
  'failed',
  'interrupted',
  'not_running',
]

/**
 * Every run's progress in the Prometheus text format (0.0.4), labelled
 * `longhaul_job` and `run`, so an existing Prometheus/Grafana can chart it.
 * `longhaul_run_state` is 1 for the run's current state and 0 for the others.
 */
export function prometheusText(listed: readonly RunItem[]): string {
  // One series per run: a folder that copies another run's (copyOf) would repeat its series, and a folder that
  // cannot be read has no run to label; it is counted in longhaul_runs_unreadable.
  const runs = listed.filter((run) => !run.copyOf && !run.unreadable)
  const lines: string[] = [
    '# HELP longhaul_runs_unreadable Run folders under the root whose files cannot be read (the dashboard says why).',
    '# TYPE longhaul_runs_unreadable gauge',
    `longhaul_runs_unreadable ${listed.filter((run) => run.unreadable).length}`,
  ]
  const gauge = (name: string, help: string, value: (run: RunItem) => number | null): void => {
    lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} gauge`)
    for (const run of runs) {
      const v = value(run)
      if (v !== null && Number.isFinite(v)) lines.push(`${name}{${labels(run)}} ${v}`)
    }
  }
  gauge('longhaul_items_done', 'Items committed.', (r) => r.snapshot.done)
  gauge('longhaul_items_total', 'Items in the run.', (r) => r.snapshot.total)
  gauge('longhaul_items_per_second', 'Current rate, while known.', (r) => r.snapshot.itemsPerSecond)
  gauge('longhaul_eta_seconds', 'Estimated seconds to completion, while known.', (r) => r.snapshot.etaSeconds)
  gauge(
    'longhaul_heartbeat_age_seconds',
    'Seconds since the last heartbeat of a run that says it is running or stalled (a finished run has none).',
    (r) => (claimsLive(r) ? Math.max(0, r.heartbeatAgeSeconds) : null),
  )
  lines.push(
    '# HELP longhaul_usage_total What the committed items reported with ctx.usage, by counter (unit="usd": the cost).',
    '# TYPE longhaul_usage_total counter',
  )
  for (const run of runs)
    for (const [unit, amount] of Object.entries(run.snapshot.usage ?? {}))
      if (Number.isFinite(amount)) lines.push(`longhaul_usage_total{${labels(run)},unit="${escape(unit)}"} ${amount}`)
  lines.push(
    "# HELP longhaul_run_state 1 for the run's current state, 0 for the others.",
    '# TYPE longhaul_run_state gauge',
  )
  for (const run of runs) {
    const current = run.ownerGone ? 'not_running' : run.snapshot.state
    for (const state of STATES)
      lines.push(`longhaul_run_state{${labels(run)},state="${state}"} ${state === current ? 1 : 0}`)
  }
  return `${lines.join('\n')}\n`
}

function claimsLive(run: RunItem): boolean {
  return run.snapshot.state === 'running' || run.snapshot.state === 'stalled'
}

function labels(run: RunItem): string {
  // Not `job`: Prometheus sets that label itself (the scrape job) and would move ours to `exported_job`.
  return `longhaul_job="${escape(run.snapshot.job)}",run="${escape(run.id)}"`
}

function escape(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')
}
