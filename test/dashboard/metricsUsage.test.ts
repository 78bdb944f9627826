// /metrics carries what a run's items reported with ctx.usage: longhaul_usage_total{longhaul_job,run,unit}, equal to
// the run's totals in progress.json. A real run in a real folder, served by the real server over HTTP.
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { expect, it } from 'vitest'
import { startDashboard } from '../../src/dashboard/server.ts'
import { runMapJob } from '../../src/index.ts'
import { fixture, tempDir } from '../support/cli.ts'

it('usage on /metrics: longhaul_usage_total per counter, labelled longhaul_job, run and unit', async () => {
  const root = tempDir('longhaul-dashboard-')
  const outDir = join(root, 'runs/paid')
  const summary = await runMapJob({ jobPath: fixture('paid.ts'), outDir, total: 50, workers: 1 })
  expect(summary).toMatchObject({ state: 'complete', committed: 50 })
  const progress = JSON.parse(readFileSync(join(outDir, 'progress.json'), 'utf8'))
  // Items 0–49 use 100 + (i mod 17) tokens each: 5,000 + (0+…+16) × 2 + (0+…+15) = 5,392.
  expect(progress.usage.tokens).toBe(5_392)
  const dashboard = await startDashboard({ root, port: 0 })
  try {
    const text = await (await fetch(`${dashboard.url.replace(/\/$/, '')}/metrics`)).text()
    const labels = `longhaul_job="paid",run="${summary.runId}"`
    expect(text).toMatch(/# TYPE longhaul_usage_total counter/)
    expect(text).toContain(`longhaul_usage_total{${labels},unit="tokens"} 5392`)
    expect(text).toContain(`longhaul_usage_total{${labels},unit="usd"} ${progress.usage.usd}`)
  } finally {
    await dashboard.close()
  }
})
