import { join } from 'node:path'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { type Dashboard, startDashboard } from '../../src/dashboard/server.ts'
import { type Browser, openBrowser } from '../support/browser.ts'
import { tempDir } from '../support/cli.ts'
import { forgedSnapshot, writeForgedRun } from '../support/forgedRun.ts'

// What the list loads, in a real Chromium: only the list's own modules (none of the run page's, not its chart
// library), and its data fetched once, before the modules that read it (all asked for once its first frame is painted:
// listFirstFrame.test.ts). (How fast it is painted is measured by bench/cases/dashboard.mjs, not asserted here.)

const root = tempDir('longhaul-list-load-')
let dashboard: Dashboard
let browser: Browser

beforeAll(async () => {
  const at = new Date().toISOString()
  for (let i = 0; i < 60; i++)
    writeForgedRun(
      join(root, `run-${i}`),
      forgedSnapshot({
        job: `job-${i}`,
        done: 10,
        total: 10,
        itemsPerSecond: 1,
        startedAt: at,
        updatedAt: at,
        heartbeatAt: at,
        lastCheckpointAt: at,
        checkpoints: 1,
        elapsedSeconds: 10,
      }),
    )
  dashboard = await startDashboard({ root, port: 0 })
  browser = await openBrowser()
})

afterAll(async () => {
  await browser?.close()
  await dashboard?.close()
})

it("list-loads-its-own: the list asks for its own modules and its data once, none of the run page's", async () => {
  const page = await browser.newPage()
  const requested: string[] = []
  page.on('request', (request) => requested.push(new URL(request.url()).pathname))
  await page.goto(dashboard.url)
  await expect.poll(() => page.locator('tbody tr[data-run]').count()).toBe(60)
  const scripts = requested.filter((path) => path.endsWith('.js'))
  expect(scripts).toEqual(expect.arrayContaining(['/static/app.js', '/static/list.js', '/static/listTable.js']))
  for (const runPageOnly of ['/static/run.js', '/static/chart.js', '/static/sections.js', '/static/uPlot.iife.min.js'])
    expect(scripts).not.toContain(runPageOnly)
  // The data is asked for once (the page's preload is what the list reads), before the modules that read it.
  expect(requested.filter((path) => path === '/api/runs')).toHaveLength(1)
  expect(requested.indexOf('/api/runs')).toBeLessThan(requested.indexOf('/static/list.js'))
  // The rows past the first screenful follow: every run is listed.
  expect(await page.locator('.overview').textContent()).toMatch(/^60 runs/)
  expect(browser.pageErrors).toEqual([])
})

it('run-page-loads-its-chart: a run page still gets its modules and the chart library', async () => {
  const { runs } = (await (await fetch(`${dashboard.url}api/runs`)).json()) as { runs: { id: string }[] }
  const page = await browser.newPage()
  await page.goto(`${dashboard.url}runs/${runs[0]!.id}`)
  await expect.poll(() => page.evaluate(() => typeof (window as { uPlot?: unknown }).uPlot)).toBe('function')
  await expect.poll(() => page.locator('#connection').textContent()).toMatch(/^finished/)
  expect(browser.pageErrors).toEqual([])
})
