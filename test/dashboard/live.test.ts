import type { ChildProcess } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import type { Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type Dashboard, startDashboard } from '../../src/dashboard/server.ts'
import type { ProgressSnapshot } from '../../src/telemetry/snapshot.ts'
import { type Browser, keepScreenshot, newContext } from '../support/browser.ts'
import { type CliResult, fixture, runCli, startCli, tempDir } from '../support/cli.ts'
import { forgedSnapshot, writeForgedRun } from '../support/forgedRun.ts'

// The dashboard kept open in many tabs over a root of 500 runs, in a real Chromium: one live connection per browser
// whatever the number of tabs, none for a finished run, the list updated by diffs of the runs that changed.

const root = tempDir('longhaul-live-')
const FORGED = 498
let dashboard: Dashboard
let finishedId = ''
let runningId = ''
let running: { child: ChildProcess; done: Promise<CliResult> } | undefined
const browsers: Browser[] = []
const forged: { id: string; dir: string; job: string }[] = []

beforeAll(async () => {
  const finished = await runCli([
    'run',
    fixture('squares.ts'),
    '--out',
    join(root, 'finished'),
    '--total',
    '100',
    '--json',
  ])
  expect(finished.code, finished.stderr).toBe(0)
  finishedId = JSON.parse(finished.stdout).runId
  for (let i = 0; i < FORGED; i++) forged.push(addForgedRun(i))
  // A job that commits every few items for minutes (killed after the tests).
  running = startCli(
    [
      'run',
      fixture('squares.ts'),
      '--out',
      join(root, 'running'),
      '--total',
      '100000',
      '--workers',
      '1',
      '--progress-every',
      '1',
    ],
    { ITEM_MS: '20' },
  )
  dashboard = await startDashboard({ root, port: 0 })
  for (let i = 0; i < 200 && !runningId; i++) {
    const { runs } = (await (await fetch(`${dashboard.url}api/runs`)).json()) as { runs: { id: string; dir: string }[] }
    runningId = runs.find((r) => r.dir === 'running')?.id ?? ''
    if (!runningId) await new Promise((resolve) => setTimeout(resolve, 100))
  }
  expect(runningId).not.toBe('')
}, 120_000)

afterAll(async () => {
  running?.child.kill('SIGKILL')
  await running?.done
  for (const browser of browsers) await browser.close()
  await dashboard?.close()
})

/** A finished run as another machine's copy would leave it: its progress.json alone. */
function addForgedRun(i: number): { id: string; dir: string; job: string } {
  const id = randomUUID()
  const dir = join('team', `batch-${String(i).padStart(3, '0')}`)
  const job = `forged-${String(i).padStart(3, '0')}`
  writeSnapshot(dir, forgedRunSnapshot(id, job, 1000 - i))
  return { id, dir, job }
}

function forgedRunSnapshot(runId: string, job: string, done: number): ProgressSnapshot {
  return forgedSnapshot({ runId, job, done, total: 1000, percent: done / 10 })
}

/** Written as a run writes it: to a temporary file, then renamed over. */
function writeSnapshot(dir: string, snapshot: ProgressSnapshot): void {
  writeForgedRun(join(root, dir), snapshot)
}

const doneOnDisk = () =>
  (JSON.parse(readFileSync(join(root, 'running', 'progress.json'), 'utf8')) as ProgressSnapshot).done
const barOf = async (page: Page, id: string) =>
  Number(await page.locator(`[data-run="${id}"] [role=progressbar]`).first().getAttribute('aria-valuenow'))

/** Reads the list's live stream as a browser's one connection does, keeping each message's raw bytes. */
function readStream(url: string): { messages: string[]; stop(): void } {
  const controller = new AbortController()
  const messages: string[] = []
  void (async () => {
    const response = await fetch(url, { signal: controller.signal })
    let buffer = ''
    for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
      buffer += Buffer.from(chunk).toString('utf8')
      let end: number
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        messages.push(buffer.slice(0, end + 2))
        buffer = buffer.slice(end + 2)
      }
    }
  })().catch(() => undefined)
  return { messages, stop: () => controller.abort() }
}

async function newBrowser(options?: Parameters<typeof newContext>[0]): Promise<Browser> {
  const browser = await newContext(options)
  browsers.push(browser)
  return browser
}

describe('dashboard live updates, many tabs and 500 runs', () => {
  it("a finished run's page is read once and holds no live connection", async () => {
    const browser = await newBrowser()
    const page = await browser.newPage()
    await page.goto(`${dashboard.url}runs/${finishedId}`)
    await expect
      .poll(() => page.locator('h1 + [data-state], [data-state="COMPLETE"]').first().textContent())
      .toBe('COMPLETE')
    await new Promise((resolve) => setTimeout(resolve, 1_000))
    expect(dashboard.streams()).toBe(0)
    expect(await page.locator('#connection').textContent()).toMatch(/^finished/)
    await browser.close()
  })

  it('eight tabs (seven pages of a running job and the list) open at once share one connection and all receive its next commit', async () => {
    const browser = await newBrowser()
    const pages = await Promise.all(Array.from({ length: 8 }, () => browser.newPage()))
    await Promise.all(pages.map((page, i) => page.goto(i === 7 ? dashboard.url : `${dashboard.url}runs/${runningId}`)))
    for (const page of pages) await expect.poll(() => barOf(page, runningId), { timeout: 30_000 }).toBeGreaterThan(0)
    // A commit made after every tab has shown the run reaches every tab.
    const shown = Math.max(...(await Promise.all(pages.map((page) => barOf(page, runningId)))))
    await expect.poll(doneOnDisk, { timeout: 30_000 }).toBeGreaterThan(shown)
    const next = doneOnDisk()
    for (const page of pages)
      await expect.poll(() => barOf(page, runningId), { timeout: 15_000 }).toBeGreaterThanOrEqual(next)
    expect(dashboard.streams()).toBe(1)
    expect(browser.pageErrors).toEqual([])
    await browser.close()
    await expect.poll(() => dashboard.streams()).toBe(0)
  }, 300_000)

  it('a 500-run root is listed whole, and a change to one run reaches the page as a diff of a few KB, not the list again', async () => {
    const browser = await newBrowser()
    const page = await browser.newPage()
    const listFetches: string[] = []
    page.on('request', (request) => {
      if (new URL(request.url()).pathname === '/api/runs') listFetches.push(request.url())
    })
    const started = Date.now()
    await page.goto(dashboard.url)
    await expect.poll(() => page.locator('tbody tr[data-run]').count(), { timeout: 10_000 }).toBe(FORGED + 2)
    // A figure for the record, not a timed assertion (bench/cases/dashboard.mjs measures it).
    process.stderr.write(`500-run list painted ${Date.now() - started} ms after navigation\n`)
    expect(await page.locator('.overview').textContent()).toMatch(/^500 runs — /)
    expect(listFetches).toHaveLength(1)

    const stream = readStream(`${dashboard.url}api/live?list=1`)
    try {
      await expect.poll(() => stream.messages.length).toBeGreaterThan(0)
      const target = forged[123]!
      writeSnapshot(target.dir, {
        ...forgedRunSnapshot(target.id, target.job, 999),
        updatedAt: new Date().toISOString(),
      })
      await expect
        .poll(() => page.locator(`tr[data-run="${target.id}"] .counts`).textContent(), { timeout: 5_000 })
        .toMatch(/^999 \/ 1,000/)
      const update = stream.messages.find((m) => m.startsWith('event: runs') && m.includes(target.id))
      expect(update).toBeDefined()
      expect(Buffer.byteLength(update!)).toBeLessThan(10 * 1024)
      expect(listFetches).toHaveLength(1)
    } finally {
      stream.stop()
    }
    await keepScreenshot(page, 'dashboard-table', { fullPage: false })
    await browser.close()
  })

  it('the table filters by text and by state and sorts by a column; on a phone it fits the screen', async () => {
    const browser = await newBrowser({ viewport: { width: 390, height: 844 } })
    const page = await browser.newPage()
    await page.goto(dashboard.url)
    await expect.poll(() => page.locator('tbody tr[data-run]').count(), { timeout: 10_000 }).toBe(FORGED + 2)
    const visible = page.locator('tbody tr[data-run]:visible')
    await page.getByLabel('Filter runs by job, folder or id').fill('forged-12')
    await expect.poll(() => visible.count()).toBe(10)
    await page.getByLabel('Filter runs by job, folder or id').fill('')
    await page.getByLabel('Show runs in this state').selectOption('running')
    await expect.poll(() => visible.count()).toBe(1)
    expect(await visible.getAttribute('data-run')).toBe(runningId)
    expect(page.url()).toMatch(/\?state=running$/)
    await page.getByLabel('Show runs in this state').selectOption('')
    await page.locator('button[data-sort="job"]').click()
    await expect.poll(() => visible.first().locator('.job a').textContent()).toBe('forged-000')
    await page.locator('button[data-sort="job"]').click()
    await expect.poll(() => visible.first().locator('.job a').textContent()).toBe('squares')
    expect(await page.locator('th[data-col="job"]').getAttribute('aria-sort')).toBe('descending')
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390)
    await page.locator('button[data-sort="job"]').click()
    await keepScreenshot(page, 'dashboard-table-phone', { fullPage: false })
    expect(browser.pageErrors).toEqual([])
    await browser.close()
  })
  it('a browser without shared workers asks for the changes every few seconds, holding no connection, and still follows the job', async () => {
    // The earlier tests' browsers are closed; the server notices their connections go within moments.
    await expect.poll(() => dashboard.streams(), { timeout: 10_000 }).toBe(0)
    const browser = await newBrowser()
    await browser.context.addInitScript(() => {
      delete (window as { SharedWorker?: unknown }).SharedWorker
    })
    const runPage = await browser.newPage()
    const list = await browser.newPage()
    await runPage.goto(`${dashboard.url}runs/${runningId}`)
    await list.goto(dashboard.url)
    for (const page of [runPage, list])
      await expect.poll(() => barOf(page, runningId), { timeout: 10_000 }).toBeGreaterThan(0)
    const next = doneOnDisk() + 1
    await expect.poll(doneOnDisk, { timeout: 10_000 }).toBeGreaterThanOrEqual(next)
    for (const page of [runPage, list])
      await expect.poll(() => barOf(page, runningId), { timeout: 10_000 }).toBeGreaterThanOrEqual(next)
    expect(dashboard.streams()).toBe(0)
    expect(browser.pageErrors).toEqual([])
    await browser.close()
  })

  it('after the server restarts, an open run page and the list reconnect by themselves and follow the job again', async () => {
    const first = await startDashboard({ root, port: 0 })
    let firstOpen = true
    const port = Number(new URL(first.url).port)
    let second: Dashboard | undefined
    try {
      const browser = await newBrowser()
      const runPage = await browser.newPage()
      const list = await browser.newPage()
      await runPage.goto(`${first.url}runs/${runningId}`)
      await list.goto(first.url)
      for (const page of [runPage, list])
        await expect.poll(() => barOf(page, runningId), { timeout: 10_000 }).toBeGreaterThan(0)
      await first.close()
      firstOpen = false
      await expect.poll(() => runPage.locator('#connection').getAttribute('data-status')).toBe('offline')
      second = await startDashboard({ root, port })
      const next = doneOnDisk() + 1
      await expect.poll(doneOnDisk, { timeout: 10_000 }).toBeGreaterThanOrEqual(next)
      for (const page of [runPage, list])
        await expect.poll(() => barOf(page, runningId), { timeout: 15_000 }).toBeGreaterThanOrEqual(next)
      expect(await runPage.locator('#connection').getAttribute('data-status')).toBe('live')
      expect(second.streams()).toBe(1)
      await browser.close()
    } finally {
      if (firstOpen) await first.close()
      await second?.close()
    }
  })
})
