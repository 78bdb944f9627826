import type { ChildProcess } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import type { Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type Dashboard, startDashboard } from '../../src/dashboard/server.ts'
import type { ProgressSnapshot } from '../../src/telemetry/snapshot.ts'
import { type Browser, keepScreenshot, newContext } from '../support/browser.ts'
import { type CliResult, fixture, startCli, tempDir, waitFor } from '../support/cli.ts'

// A dashboard served with a token, opened in a real Chromium from its printed ?token= URL: the browser's one shared
// live connection (liveWorker.js) is let in by the page's cookie and every tab follows the job; a tab without the
// token gets the 401 page, and an open tab whose token the server no longer accepts says so instead of sitting still.

const root = tempDir('longhaul-live-auth-')
const TOKEN = 'live-auth-token-live-auth-token'
let dashboard: Dashboard | undefined
let runningId = ''
let running: { child: ChildProcess; done: Promise<CliResult> } | undefined
const browsers: Browser[] = []

beforeAll(async () => {
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
  dashboard = await startDashboard({ root, port: 0, token: TOKEN })
  const api = `${dashboard.url.replace(/\?token=.*$/, '')}api/runs`
  runningId = await waitFor(
    'the running job to be listed',
    async () => {
      const answer = await fetch(api, { headers: { authorization: `Bearer ${TOKEN}` } })
      const { runs } = (await answer.json()) as { runs: { id: string; dir: string }[] }
      return runs.find((r) => r.dir === 'running')?.id
    },
    60_000,
  )
}, 120_000)

afterAll(async () => {
  running?.child.kill('SIGKILL')
  await running?.done
  for (const browser of browsers) await browser.close()
  await dashboard?.close()
})

async function newBrowser(): Promise<Browser> {
  const browser = await newContext()
  browsers.push(browser)
  return browser
}

const doneOnDisk = () =>
  (JSON.parse(readFileSync(join(root, 'running', 'progress.json'), 'utf8')) as ProgressSnapshot).done
const barOf = async (page: Page, id: string) =>
  Number(await page.locator(`[data-run="${id}"] [role=progressbar]`).first().getAttribute('aria-valuenow'))
const bare = (url: string) => url.replace(/\?token=.*$/, '')

describe('a dashboard with a token, its tabs sharing one live connection', () => {
  let browser: Browser
  let pages: Page[] = []

  it('token-live: tabs opened after the ?token= URL all follow the running job over the one shared stream', async () => {
    browser = await newBrowser()
    const first = await browser.newPage()
    expect((await first.goto(dashboard!.url))?.status()).toBe(200)
    expect(first.url()).not.toContain('token')
    // The other tabs are opened at the addresses without the token, as a link or a bookmark opens them.
    const others = await Promise.all(Array.from({ length: 3 }, () => browser.newPage()))
    await Promise.all(
      others.map(async (page, i) =>
        expect(
          (await page.goto(i === 0 ? bare(dashboard!.url) : `${bare(dashboard!.url)}runs/${runningId}`))?.status(),
        ).toBe(200),
      ),
    )
    pages = [first, ...others]
    for (const page of pages) await expect.poll(() => barOf(page, runningId), { timeout: 30_000 }).toBeGreaterThan(0)
    // A commit made after every tab has shown the run reaches every tab, live.
    const shown = Math.max(...(await Promise.all(pages.map((page) => barOf(page, runningId)))))
    await expect.poll(doneOnDisk, { timeout: 30_000 }).toBeGreaterThan(shown)
    const next = doneOnDisk()
    for (const page of pages)
      await expect.poll(() => barOf(page, runningId), { timeout: 15_000 }).toBeGreaterThanOrEqual(next)
    for (const page of pages) expect(await page.locator('#connection').getAttribute('data-status')).toBe('live')
    expect(dashboard!.streams()).toBe(1)
    expect(browser.pageErrors).toEqual([])
  }, 120_000)

  it('token-refused-page: a tab without the token, or with a wrong one, gets the 401 page that says what to open', async () => {
    const stranger = await newBrowser()
    const page = await stranger.newPage()
    for (const url of [bare(dashboard!.url), `${bare(dashboard!.url)}?token=not-the-token`]) {
      const response = await page.goto(url)
      expect(response?.status(), url).toBe(401)
      expect(await page.locator('body').textContent()).toMatch(/needs its token.*\?token=/s)
    }
    await keepScreenshot(page, 'dashboard-token-401')
    await stranger.close()
  })

  it('token-refused-live: open tabs whose token the server no longer accepts say so, and follow again once it is given', async () => {
    const port = Number(new URL(dashboard!.url).port)
    await dashboard!.close()
    // Another dashboard on the same port, with another token (a restart with a new token).
    dashboard = await startDashboard({ root, port, token: 'another-token-another-token' })
    for (const page of pages) {
      await expect
        .poll(() => page.locator('#connection').getAttribute('data-status'), { timeout: 20_000 })
        .toBe('unauthorized')
      await expect(page.locator('[role=alert][data-refused]').textContent()).resolves.toMatch(/needs its token/)
    }
    await keepScreenshot(pages[0]!, 'dashboard-token-refused-live', { fullPage: false })
    // Opening the new URL with its token in one tab renews the cookie: every tab follows the job again.
    expect((await pages[0]!.goto(dashboard.url))?.status()).toBe(200)
    const next = doneOnDisk() + 1
    await expect.poll(doneOnDisk, { timeout: 15_000 }).toBeGreaterThanOrEqual(next)
    for (const page of pages) {
      await expect.poll(() => barOf(page, runningId), { timeout: 20_000 }).toBeGreaterThanOrEqual(next)
      expect(await page.locator('[role=alert][data-refused]').isVisible()).toBe(false)
    }
    expect(dashboard.streams()).toBe(1)
    expect(browser.pageErrors).toEqual([])
  }, 120_000)

  it('token-refused-polling: a browser without shared workers, which asks for changes instead, says so too', async () => {
    const polling = await newBrowser()
    await polling.context.addInitScript(() => {
      delete (window as { SharedWorker?: unknown }).SharedWorker
    })
    const page = await polling.newPage()
    expect((await page.goto(`${dashboard!.url}`))?.status()).toBe(200)
    await expect.poll(() => barOf(page, runningId), { timeout: 20_000 }).toBeGreaterThan(0)
    // Following by polling before the restart (the list's rows come in its HTML, its modules after the first paint).
    await expect.poll(() => page.locator('#connection').getAttribute('data-status'), { timeout: 20_000 }).toBe('live')
    const port = Number(new URL(dashboard!.url).port)
    await dashboard!.close()
    dashboard = await startDashboard({ root, port, token: 'a-third-token-a-third-token' })
    await expect
      .poll(() => page.locator('#connection').getAttribute('data-status'), { timeout: 20_000 })
      .toBe('unauthorized')
    await expect(page.locator('[role=alert][data-refused]').textContent()).resolves.toMatch(/needs its token/)
    expect(polling.pageErrors).toEqual([])
  }, 60_000)
})
