import { mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { chromium, type BrowserContext } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startDashboard, type Dashboard } from '../../src/dashboard/server.ts'
import { fixture, ROOT, runCli, startCli, tempDir } from '../support/cli.ts'

// A real Chromium (Debian's, never a download) on the real server, following real runs.
const root = tempDir('longhaul-page-')
let dashboard: Dashboard
let browser: BrowserContext
let profile = ''

beforeAll(async () => {
  expect((await runCli(['run', fixture('squares.ts'), '--out', join(root, 'finished'), '--total', '200'])).code).toBe(0)
  dashboard = await startDashboard({ root, port: 0 })
  profile = mkdtempSync(join(tmpdir(), 'longhaul-chromium-'))
  browser = await chromium.launchPersistentContext(profile, {
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  })
}, 60_000)

afterAll(async () => {
  await browser?.close()
  await dashboard?.close()
  rmSync(profile, { recursive: true, force: true })
})

async function runIdOf(dirName: string): Promise<string> {
  for (let i = 0; i < 100; i++) {
    const { runs } = (await (await fetch(`${dashboard.url}api/runs`)).json()) as { runs: { id: string; dir: string }[] }
    const run = runs.find((r) => r.dir === dirName)
    if (run) return run.id
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  throw new Error(`no run ${dirName} appeared`)
}

describe('dashboard page in a real browser', () => {
  it('the list shows each run\'s state as a word; a running job\'s bar moves as commits land; a stalled one says STALLED; a finished one COMPLETE', async () => {
    const running = startCli(['run', fixture('blocking.ts'), '--out', join(root, 'running'), '--total', '3000', '--workers', '1', '--progress-every', '1'], { ITEM_MS: '3' })
    const stalled = startCli(['run', fixture('blocking.ts'), '--out', join(root, 'stalled'), '--total', '50', '--workers', '1', '--stall-after', '1'], { ITEM_MS: '1', BLOCK_AT: '10', BLOCK_MS: '30000' })
    try {
      const runningId = await runIdOf('running')
      const page = await browser.newPage()
      await page.goto(dashboard.url)
      await expect.poll(() => page.locator('[data-state]').allTextContents(), { timeout: 15_000 }).toEqual(expect.arrayContaining(['COMPLETE', 'RUNNING', 'STALLED']))
      const finishedCard = page.locator('section[data-run]', { hasText: 'squares' })
      await expect.poll(() => finishedCard.locator('[role=progressbar]').getAttribute('aria-valuenow')).toBe('200')

      await page.goto(`${dashboard.url}runs/${runningId}`)
      const bar = page.locator('[role=progressbar]')
      await expect.poll(async () => Number(await bar.getAttribute('aria-valuenow')), { timeout: 10_000 }).toBeGreaterThan(0)
      const first = Number(await bar.getAttribute('aria-valuenow'))
      // Live: the same page, no reload, shows later commits.
      await expect.poll(async () => Number(await bar.getAttribute('aria-valuenow')), { timeout: 10_000 }).toBeGreaterThan(first)
      await expect.poll(() => page.locator('h3', { hasText: 'Events' }).count()).toBe(1)
      await expect.poll(() => page.locator('td', { hasText: 'started' }).count()).toBeGreaterThan(0)
      // Nothing unrendered leaks onto the page.
      expect(await page.locator('main').innerText()).not.toMatch(/null|undefined|NaN/)
      mkdirSync(join(ROOT, 'test-artifacts'), { recursive: true })
      await page.setViewportSize({ width: 1100, height: 900 })
      await page.screenshot({ path: join(ROOT, 'test-artifacts/dashboard-run.png'), fullPage: true })
      await page.goto(dashboard.url)
      await page.screenshot({ path: join(ROOT, 'test-artifacts/dashboard.png'), fullPage: true })
      // Readable on a phone: one column, nothing wider than the screen.
      await page.setViewportSize({ width: 390, height: 844 })
      expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390)
      await page.screenshot({ path: join(ROOT, 'test-artifacts/dashboard-phone.png'), fullPage: true })
    } finally {
      running.child.kill('SIGINT')
      stalled.child.kill('SIGKILL')
      await Promise.all([running.done, stalled.done])
    }
  }, 90_000)
})
