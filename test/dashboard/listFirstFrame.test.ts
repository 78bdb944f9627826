import { join } from 'node:path'
import type { Page } from 'playwright-core'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { type Dashboard, startDashboard } from '../../src/dashboard/server.ts'
import { type Browser, openBrowser } from '../support/browser.ts'
import { tempDir } from '../support/cli.ts'
import { forgedSnapshot, writeForgedRun } from '../support/forgedRun.ts'

// What the list's first frame is made of, in a real Chromium: the rows the server wrote and nothing fetched beside
// them (the list's modules and its data are asked for once that frame is on the screen), each row only the elements
// that show something. (How fast it is painted is measured by bench/cases/dashboard.mjs, not asserted here.)

const root = tempDir('longhaul-first-frame-')
const RUNS = 30
let dashboard: Dashboard
let browser: Browser
/** The list is read once its first frame is on the screen: on a loaded machine, a few seconds may pass. */
const LOADED = { timeout: 10_000 }

beforeAll(async () => {
  const old = new Date(Date.now() - 7_230_000).toISOString()
  // Listed first (live runs first, by folder): one whose owner is silent (explained in words), then finished runs.
  writeForgedRun(
    join(root, 'a-silent'),
    forgedSnapshot({ job: 'silent', state: 'running', done: 5, total: 10, updatedAt: old, heartbeatAt: old }),
  )
  writeForgedRun(
    join(root, 'b-waived'),
    forgedSnapshot({
      job: 'waived',
      updatedAt: new Date(Date.now() - 60_000).toISOString(),
      gate: { status: 'waived', reason: '--skip-preflight', policy: 'defaults' } as never,
      usage: { usd: 1.2, tokens: 812_000 },
    }),
  )
  for (let i = 2; i < RUNS; i++) writeForgedRun(join(root, `run-${i}`), forgedSnapshot({ job: `job-${i}` }))
  dashboard = await startDashboard({ root, port: 0 })
  browser = await openBrowser()
})

afterAll(async () => {
  await browser?.close()
  await dashboard?.close()
})

/** When the page's first content was on the screen and when each of its requests began, on the page's clock. */
const timings = (page: Page) =>
  page.evaluate(() => ({
    firstPaint: performance.getEntriesByName('first-contentful-paint')[0]?.startTime ?? null,
    requests: performance
      .getEntriesByType('resource')
      .map((entry) => ({ path: new URL(entry.name).pathname, startTime: entry.startTime })),
  }))

it('list-fetches-after-first-frame: the list asks for its modules and its data only once its first rows are on the screen, then lists every run', async () => {
  const page = await browser.newPage()
  await page.goto(dashboard.url)
  await expect.poll(() => page.locator('tbody tr[data-run]').count(), LOADED).toBe(RUNS)
  await expect.poll(() => page.locator('main').getAttribute('aria-busy'), LOADED).toBe('false')
  const { firstPaint, requests } = await timings(page)
  expect(firstPaint).not.toBeNull()
  const began = (path: string) => requests.find((request) => request.path === path)?.startTime
  for (const path of ['/api/runs', '/static/list.js', '/static/listTable.js', '/static/runRow.js'])
    expect(began(path), path).toBeGreaterThanOrEqual(firstPaint!)
  // Asked for once each, and the data first.
  expect(requests.filter((request) => request.path === '/api/runs')).toHaveLength(1)
  expect(began('/api/runs')!).toBeLessThanOrEqual(began('/static/list.js')!)
  expect(browser.pageErrors).toEqual([])
  await page.close()
})

it("list-rows-only-what-shows: the server's rows hold no hidden or empty placeholder, and say the same as the page's own rows once it has read the list", async () => {
  const plain = await browser.newPage()
  await plain.route(/\/static\/.*\.js$|\/api\//, (route) => route.abort())
  await plain.goto(dashboard.url)
  const body = plain.locator('tbody')
  expect(await body.locator('[hidden]').count()).toBe(0)
  expect(await body.locator('span:empty').count()).toBe(0)
  const silent = plain.locator('tr[data-dir="a-silent"]')
  expect(await silent.locator('.summary').textContent()).toMatch(/^not running/)
  expect(await silent.locator('.badge').count()).toBe(0)
  const waived = plain.locator('tr[data-dir="b-waived"]')
  expect(await waived.locator('.badge[data-gate="waived"]').textContent()).toBe('WAIVED')
  expect(await waived.locator('.summary').count()).toBe(0)
  expect(await waived.locator('td[data-col="usage"]').innerText()).toMatch(/^\$1\.20\s+812,000 tokens$/)
  expect(
    await plain
      .locator('tr[data-dir^="run-"] td[data-col="usage"]')
      .first()
      .evaluate((td) => td.childNodes.length),
  ).toBe(0)
  const written = await body.locator('tr').evaluateAll((trs) => trs.map((tr) => tr.outerHTML))
  await plain.close()

  // The page's own rows, built from /api/runs, for runs past the server's: the same elements.
  const page = await browser.newPage()
  await page.goto(dashboard.url)
  await expect.poll(() => page.locator('tbody tr[data-run]').count(), LOADED).toBe(RUNS)
  const age = /(data-col="updated">)[^<]*/g
  const shown = await page.locator('tbody tr').evaluateAll((trs) => trs.map((tr) => tr.outerHTML))
  expect(shown.slice(0, written.length).map((html) => html.replace(age, '$1'))).toEqual(
    written.map((html) => html.replace(age, '$1')),
  )
  const built = page.locator(`tbody tr:nth-child(${written.length + 1})`)
  expect(await built.locator('[hidden], span:empty').count()).toBe(0)
  expect(await built.locator('td').count()).toBe(8)
  await page.close()
})
