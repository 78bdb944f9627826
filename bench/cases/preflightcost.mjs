// Preflight's own cost against the run it proves: `longhaul preflight` of a job
// whose items take a known time (jobs/busy.ts), at targets whose runs are
// projected to last from about a minute to a quarter of an hour. The figure is
// preflight's wall time over the target run's projected duration (the proof's
// own projection, its median); DESIGN's rule: at most 15% once the run is
// longer than 10 minutes.
//
//   node bench/cases/preflightcost.mjs ITEM_US TARGET...
import { execFileSync } from 'node:child_process'
import { join } from 'node:path'
import { emit, jobPath, loadAverage, round, say, scratch } from '../lib/report.mjs'

const [itemUsArg, ...targetArgs] = process.argv.slice(2)
const itemUs = Number(itemUsArg)
const targets = targetArgs.map(Number)
if (!(itemUs > 0) || targets.length === 0 || targets.some((t) => !(t > 0)))
  throw new Error('usage: preflightcost.mjs ITEM_US TARGET...')
const CLI = new URL('../../bin/longhaul.mjs', import.meta.url).pathname
const LONG_RUN_SECONDS = 600
const MAX_SHARE = 0.15

for (const target of targets) {
  const dir = scratch(`preflightcost-${target}`)
  const out = join(dir, 'run')
  const load = loadAverage()
  const started = performance.now()
  const stdout = execFileSync(
    process.execPath,
    [
      CLI,
      'preflight',
      jobPath('busy.ts'),
      '--target',
      String(target),
      '--param',
      `us=${itemUs}`,
      '--out',
      out,
      '--json',
    ],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 64 << 20 },
  )
  const preflightSeconds = (performance.now() - started) / 1000
  const result = JSON.parse(stdout)
  const rehearsal = result.checks.find((c) => c.id === 'rehearsal').measurements
  const projected = rehearsal.projectedSeconds
  const share = projected ? preflightSeconds / projected : null
  say(
    `preflight of ${target.toLocaleString('en')} items of ${itemUs} µs: ${preflightSeconds.toFixed(1)} s against a projected run of ${projected?.toFixed(0)} s (${share === null ? '?' : (100 * share).toFixed(1)}%)`,
  )
  emit('preflightcost', {
    itemUs,
    items: target,
    verdict: result.verdict,
    preflightSeconds: round(preflightSeconds, 1),
    projectedRunSeconds: round(projected, 1),
    projectedRunLowSeconds: round(rehearsal.projectedLowSeconds, 1),
    projectedRunHighSeconds: round(rehearsal.projectedHighSeconds, 1),
    rehearsalSeconds: round(rehearsal.wallMs / 1000, 1),
    share: share === null ? null : round(share, 3),
    target: projected > LONG_RUN_SECONDS ? `≤ ${100 * MAX_SHARE}% of the run` : 'none (a run of 10 minutes or less)',
    ...(projected > LONG_RUN_SECONDS && { pass: share <= MAX_SHARE }),
    loadAverage: { before: load, after: loadAverage() },
  })
}
