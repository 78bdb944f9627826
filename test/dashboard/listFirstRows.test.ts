import { join } from 'node:path'
import type { Page } from 'playwright-core'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { type Dashboard, startDashboard } from '../../src/dashboard/server.ts'
import { type Browser, keepScreenshot, openBrowser } from '../support/browser.ts'
import { tempDir } from '../support/cli.ts'
import { forgedSnapshot, writeForgedRun } from '../support/forgedRun.ts'

// The list's first screenful of rows is in the page's HTML: painted before any script runs or any data is fetched,
// in the list's own order, every field as text; the page's script then takes those rows over, each run once.

const root = tempDir('longhaul-first-rows-')
const HOSTILE_JOB = '<img src=x onerror=window.__injected=1>'
const HOSTILE_DIR = 'q"><img src=x onerror=window.__injected=2>'
const DONE = 57
const FIRST_ROWS = 20
let dashboard: Dashboard
let browser: Browser
/** The list is read once its first frame is on the screen: on a loaded machine, a few seconds may pass. */
const LOADED = { timeout: 10_000 }

const ago = (seconds: number) => new Date(Date.now() - seconds * 1000).toISOString()
const doneDir = (i: number) => `done-${String(i).padStart(2, '0')}`

/**
 * The list's default order, from how the runs were written: the live run and the one whose owner is gone first
 * (by folder), then the finished runs, the most recently updated first (done-56 last updated, done-00 first).
 */
const DEFAULT_ORDER = [
  'a-live',
  'b-dead',
  HOSTILE_DIR,
  ...Array.from({ length: DONE }, (_, i) => doneDir(DONE - 1 - i)),
]

beforeAll(async () => {
  // Ages end half a minute past a whole minute, so that "1h05m ago" stays the same while the test runs.
  const old = ago(7_230)
  writeForgedRun(
    join(root, 'a-live'),
    forgedSnapshot({
      job: 'live-job',
      state: 'running',
      done: 10,
      total: 100,
      updatedAt: old,
      heartbeatAt: ago(0),
      heartbeatSeconds: 600,
    }),
  )
  writeForgedRun(
    join(root, 'b-dead'),
    forgedSnapshot({ job: 'dead-job', state: 'running', done: 20, total: 100, updatedAt: old, heartbeatAt: old }),
  )
  writeForgedRun(join(root, HOSTILE_DIR), forgedSnapshot({ job: HOSTILE_JOB, updatedAt: ago(30) }))
  for (let i = 0; i < DONE; i++)
    writeForgedRun(join(root, doneDir(i)), forgedSnapshot({ job: `job-${i}`, updatedAt: ago(3_630 + 60 * (DONE - i)) }))
  dashboard = await startDashboard({ root, port: 0 })
  browser = await openBrowser()
})

afterAll(async () => {
  await browser?.close()
  await dashboard?.close()
})

/** Opens the list with no script run and no data fetched: what its HTML alone paints. */
async function openWithoutScripts(path = ''): Promise<Page> {
  const page = await browser.newPage()
  await page.route(/\/static\/.*\.js$|\/api\//, (route) => route.abort())
  await page.goto(`${dashboard.url}${path}`)
  return page
}

const rowsOf = (page: Page) =>
  page.locator('tbody tr').evaluateAll((trs) => trs.map((tr) => (tr as HTMLElement).dataset.dir ?? ''))

it("list-first-rows-in-html: the list's HTML alone, no script run and no data fetched, shows the first screenful of runs, in the list's default order", async () => {
  const page = await openWithoutScripts()
  expect(await rowsOf(page)).toEqual(DEFAULT_ORDER.slice(0, FIRST_ROWS))
  await expect.poll(() => page.locator('tbody tr').first().isVisible()).toBe(true)
  // Each row as the page draws it: the state as a word, the job a link to its page, the numbers.
  const first = page.locator('tbody tr').nth(3)
  expect(await first.locator('.state').textContent()).toBe('COMPLETE')
  expect(await first.locator('a').textContent()).toBe(`job-${DONE - 1}`)
  expect(await first.locator('.counts').textContent()).toBe('100 / 100 · 100.0%')
  expect(await page.locator('tbody tr').nth(1).locator('.state').textContent()).toBe('NOT RUNNING')
  expect(await page.locator('.overview').textContent()).toBe('60 runs — 1 running, 1 not running, 58 complete')
  await keepScreenshot(page, 'list-first-rows-without-scripts', { fullPage: false })
  // The address's order is the server's too.
  const byFolder = await openWithoutScripts('?sort=dir&desc=1')
  expect(await rowsOf(byFolder)).toEqual([...DEFAULT_ORDER].sort().reverse().slice(0, FIRST_ROWS))
  await page.close()
  await byFolder.close()
})

it('list-first-rows-text: a job name and a folder written as markup stay text in the rows the server writes', async () => {
  const html = await (await fetch(dashboard.url)).text()
  expect(html).not.toContain('<img')
  const page = await openWithoutScripts()
  const row = page.locator('tbody tr').nth(2)
  expect(await row.locator('a').textContent()).toBe(HOSTILE_JOB)
  expect(await row.locator('.dir').textContent()).toBe(HOSTILE_DIR)
  expect(await row.getAttribute('data-dir')).toBe(HOSTILE_DIR)
  expect(await page.locator('main img').count()).toBe(0)
  expect(await page.evaluate(() => (window as unknown as { __injected?: number }).__injected)).toBeUndefined()
  await page.close()
})

it('list-first-rows-taken-over: after the scripts run, the rows the server wrote are kept as they were (none removed, none drawn twice) and every run is in the table once', async () => {
  const plain = await openWithoutScripts()
  const written = await plain.locator('tbody tr').evaluateAll((trs) => trs.map((tr) => tr.outerHTML))
  await plain.close()
  const page = await browser.newPage()
  // Every row taken out of the table, from the first moment of the page.
  await page.addInitScript(() => {
    const removed: string[] = []
    ;(window as unknown as { __removedRows: string[] }).__removedRows = removed
    new MutationObserver((records) => {
      for (const record of records)
        for (const node of record.removedNodes)
          if (node instanceof HTMLTableRowElement) removed.push(node.dataset.dir ?? '')
    }).observe(document, { childList: true, subtree: true })
  })
  await page.goto(dashboard.url)
  await expect.poll(() => page.locator('main').getAttribute('aria-busy'), LOADED).toBe('false')
  await expect.poll(() => page.locator('tbody tr').count(), LOADED).toBe(DEFAULT_ORDER.length)
  const dirs = await rowsOf(page)
  expect(dirs).toEqual(DEFAULT_ORDER)
  expect(new Set(dirs).size).toBe(dirs.length)
  expect(await page.evaluate(() => (window as unknown as { __removedRows: string[] }).__removedRows)).toEqual([])
  // The same rows, cell for cell (the age aside, which counts on).
  const age = /(data-col="updated">)[^<]*/g
  const shown = await page.locator('tbody tr').evaluateAll((trs) => trs.map((tr) => tr.outerHTML))
  expect(shown.slice(0, FIRST_ROWS).map((html) => html.replace(age, '$1'))).toEqual(
    written.map((html) => html.replace(age, '$1')),
  )
  expect(await page.evaluate(() => (window as unknown as { __injected?: number }).__injected)).toBeUndefined()
  expect(browser.pageErrors).toEqual([])
  await page.close()
})

it('list-first-rows-early-filter: a filter typed before the list is read leaves the rows the server wrote on the screen, and is applied once the list is there', async () => {
  const page = await browser.newPage()
  let release = () => {}
  const held = new Promise<void>((resolve) => {
    release = resolve
  })
  await page.route(/\/api\/runs$/, async (route) => {
    await held
    await route.continue()
  })
  await page.goto(dashboard.url)
  await page.waitForTimeout(300)
  await page.locator('.filters input').fill('job-5')
  // The list is not read yet: the table keeps the server's rows, and says nothing about runs it has not read.
  expect(await page.locator('tbody tr:not([hidden])').count()).toBe(FIRST_ROWS)
  expect(await page.locator('p.card').isHidden()).toBe(true)
  expect(await page.locator('.overview').textContent()).toMatch(/^60 runs/)
  release()
  // job-5 and job-50 … job-56.
  await expect.poll(() => page.locator('tbody tr:not([hidden])').count(), LOADED).toBe(8)
  expect(new URL(page.url()).searchParams.get('q')).toBe('job-5')
  await page.close()
})

it('list-first-rows-token: with a token, the page and its rows are answered only to a request that holds it', async () => {
  const gated = await startDashboard({ root, port: 0, token: 'first-rows-token' })
  try {
    const origin = new URL(gated.url).origin
    const refused = await fetch(`${origin}/`)
    expect(refused.status).toBe(401)
    expect(await refused.text()).not.toContain('job-')
    const answered = await fetch(`${origin}/`, { headers: { Authorization: 'Bearer first-rows-token' } })
    expect(answered.status).toBe(200)
    expect(await answered.text()).toContain(`>job-${DONE - 1}</a>`)
  } finally {
    await gated.close()
  }
})
