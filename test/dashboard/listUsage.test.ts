import { join } from 'node:path'
import type { Page } from 'playwright-core'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { type Dashboard, startDashboard } from '../../src/dashboard/server.ts'
import type { Usage } from '../../src/telemetry/snapshot.ts'
import { type Browser, keepScreenshot, newContext } from '../support/browser.ts'
import { tempDir } from '../support/cli.ts'
import { forgedSnapshot, writeForgedRun } from '../support/forgedRun.ts'

// The list's Cost column, in a real Chromium: a run whose items report usage shows its cost so far and its tokens in
// its row, the column sorts, it is there only when some run reports usage, and on a phone it is in the row's block.

const withUsage = tempDir('longhaul-list-usage-')
const without = tempDir('longhaul-list-no-usage-')
const dashboards: Dashboard[] = []
const browsers: Browser[] = []

function writeRun(root: string, name: string, usage?: Usage): void {
  writeForgedRun(join(root, name), forgedSnapshot({ job: name, itemsPerSecond: 5, ...(usage && { usage }) }))
}

beforeAll(() => {
  writeRun(withUsage, 'cheap', { tokens: 812_000, usd: 1.2 })
  writeRun(withUsage, 'dear', { tokens: 3_400_000, usd: 14.75 })
  writeRun(withUsage, 'plain')
  writeRun(without, 'plain')
})

afterAll(async () => {
  for (const browser of browsers) await browser.close()
  for (const dashboard of dashboards) await dashboard.close()
})

async function listed(root: string, viewport?: { width: number; height: number }): Promise<Page> {
  const dashboard = await startDashboard({ root, port: 0 })
  dashboards.push(dashboard)
  const browser = await newContext(viewport ? { viewport } : {})
  browsers.push(browser)
  const page = await browser.newPage()
  await page.goto(dashboard.url)
  await page.locator('tbody tr[data-run]').first().waitFor()
  return page
}

const usageOf = (page: Page, job: string) =>
  page.locator(`tbody tr[data-run]:has(.job a:text-is("${job}")) td[data-col="usage"]`)

it('list-usage: a run that reports usage shows its cost and tokens in a Cost column that sorts', async () => {
  const page = await listed(withUsage)
  await expect.poll(() => page.locator('th[data-col="usage"]').isVisible()).toBe(true)
  expect(await usageOf(page, 'dear').innerText()).toMatch(/^\$14\.75\s+3,400,000 tokens$/)
  expect(await usageOf(page, 'cheap').innerText()).toMatch(/^\$1\.20\s+812,000 tokens$/)
  expect((await usageOf(page, 'plain').innerText()).trim()).toBe('')
  const jobs = () => page.locator('tbody tr[data-run] .job a').allTextContents()
  await page.locator('button[data-sort="usage"]').click()
  await expect.poll(jobs).toEqual(['plain', 'cheap', 'dear'])
  await page.locator('button[data-sort="usage"]').click()
  await expect.poll(jobs).toEqual(['dear', 'cheap', 'plain'])
  expect(page.url()).toMatch(/sort=usage&desc=1/)
  await keepScreenshot(page, 'dashboard-list-usage', { fullPage: false })
})

it('list-usage-only-when-used: a root where no run reports usage has no Cost column', async () => {
  const page = await listed(without)
  expect(await page.locator('th[data-col="usage"]').isVisible()).toBe(false)
  expect(await page.locator('td[data-col="usage"]').first().isVisible()).toBe(false)
})

it("list-usage-phone: on a phone the cost is in the row's block, named, and the page fits the screen", async () => {
  const page = await listed(withUsage, { width: 390, height: 844 })
  const cell = usageOf(page, 'dear')
  expect(await cell.isVisible()).toBe(true)
  expect(await cell.evaluate((node) => getComputedStyle(node, '::before').content)).toBe('"Cost"')
  const box = (await cell.boundingBox())!
  expect(box.x + box.width).toBeLessThanOrEqual(390)
  expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390)
  await keepScreenshot(page, 'dashboard-list-usage-phone', { fullPage: false })
})
