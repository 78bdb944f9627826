import type { ChildProcess } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startDashboard } from '../../src/dashboard/server.ts'
import type { ProgressSnapshot } from '../../src/telemetry/snapshot.ts'
import { type Browser, keepScreenshot, openBrowser } from '../support/browser.ts'
import { type CliResult, fixture, ROOT, runCli, startCli, tempDir } from '../support/cli.ts'

// The page in a real Chromium (Debian's, never a download), served by the real
// server, following real runs: one running, one stalled, one finished, plus a
// run folder written by hand whose text is hostile.

const root = tempDir('longhaul-page-')
const HOSTILE = '<img src=x onerror=window.__injected=1>'

let dashboard: { url: string; close(): Promise<void> }
let browser: Browser
let page: Page
let finishedId = ''
const forgedId = randomUUID()
const children: { child: ChildProcess; done: Promise<CliResult> }[] = []

beforeAll(async () => {
  const finished = await runCli([
    'run',
    fixture('squares.ts'),
    '--out',
    join(root, 'finished'),
    '--total',
    '200',
    '--json',
  ])
  expect(finished.code, finished.stderr).toBe(0)
  finishedId = JSON.parse(finished.stdout).runId
  // A supervised program whose tqdm bar has no total (longhaul exec): its count, with no percentage to show.
  const replay = 'import sys; sys.stderr.buffer.write(open(sys.argv[1], "rb").read())'
  const supervised = await runCli([
    'exec',
    '--out',
    join(root, 'exec'),
    '--name',
    'no-total',
    '--',
    'python3',
    '-c',
    replay,
    join(ROOT, 'test/fixtures/tqdm/unknown-total.txt'),
  ])
  expect(supervised.code, supervised.stderr).toBe(0)
  writeForgedRun(join(root, 'forged'))
  // About six seconds of work, committing as it goes; and one that blocks on item 10 for 30 s.
  children.push(
    startCli(
      [
        'run',
        fixture('squares.ts'),
        '--out',
        join(root, 'running'),
        '--total',
        '3000',
        '--workers',
        '1',
        '--progress-every',
        '1',
      ],
      { ITEM_MS: '2' },
    ),
  )
  children.push(
    startCli(
      [
        'run',
        fixture('blocking.ts'),
        '--out',
        join(root, 'stalled'),
        '--total',
        '50',
        '--workers',
        '1',
        '--stall-after',
        '1',
        '--progress-every',
        '1',
      ],
      { ITEM_MS: '1', BLOCK_AT: '10', BLOCK_MS: '30000' },
    ),
  )
  dashboard = await startDashboard({ root, port: 0, host: '127.0.0.1' })
  browser = await openBrowser()
  page = await browser.newPage()
}, 60_000)

afterAll(async () => {
  for (const { child } of children) child.kill('SIGKILL')
  await Promise.all(children.map((c) => c.done))
  await browser?.close()
  await dashboard?.close()
})

/** A run folder as `run` would leave it, but whose owner is on another machine and silent, and whose texts are HTML. */
function writeForgedRun(dir: string): void {
  const tenMinutesAgo = new Date(Date.now() - 600_000).toISOString()
  const snapshot: ProgressSnapshot = {
    job: HOSTILE,
    runId: forgedId,
    state: 'running',
    done: 1234,
    total: 5000,
    percent: 24.68,
    inFlight: 0,
    itemsPerSecond: 12,
    etaSeconds: 300,
    etaLow: 250,
    etaHigh: 400,
    etaUnknownBecause: null,
    startedAt: tenMinutesAgo,
    updatedAt: tenMinutesAgo,
    heartbeatAt: tenMinutesAgo,
    lastCheckpointAt: tenMinutesAgo,
    checkpoints: 7,
    workers: 2,
    elapsedSeconds: 100,
    stalledForSeconds: null,
    stallAfterSeconds: 300,
    refreshSeconds: 10,
    heartbeatSeconds: 10,
    owner: { pid: 4242, host: 'another-machine' },
    gate: { status: 'waived', reason: '--skip-preflight', policy: 'defaults' },
    error: null,
  }
  mkdirSync(join(dir, 'proofs'), { recursive: true })
  writeFileSync(join(dir, 'progress.json'), JSON.stringify(snapshot))
  const predicate = {
    verdict: 'FAILED',
    target: 5000,
    expiresAt: '2099-01-01T00:00:00.000Z',
    finishedAt: tenMinutesAgo,
    checks: [
      {
        id: 'validation',
        title: 'Data validation',
        passed: false,
        evidence: 'validate() rejected 3 of 500 records',
        failures: ['validation: record 7 has <b>square</b> < 0'],
        measurements: {},
      },
      { id: 'disk', title: 'Disk space', passed: true, evidence: '1 KiB needed', failures: [], measurements: {} },
    ],
  }
  writeFileSync(join(dir, 'proofs', `${HOSTILE}-0123abcd.intoto.jsonl`), `${JSON.stringify({ predicate })}\n`)
  writeFileSync(
    join(dir, 'proofs', 'PREFLIGHT.md'),
    '# Preflight: FAILED\n\n<script>window.__injected = 2</script>\n\n| check | result |\n|---|---|\n',
  )
}

async function runIdOf(dir: string): Promise<string> {
  for (let i = 0; i < 150; i++) {
    const { runs } = (await (await fetch(`${dashboard.url}api/runs`)).json()) as { runs: { id: string; dir: string }[] }
    const run = runs.find((r) => r.dir === dir)
    if (run) return run.id
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  throw new Error(`no run appeared in ${dir}`)
}

/** A run's row in the list's table, or its card on its own page. */
const card = (id: string) => page.locator(`[data-run="${id}"]`)
const stateWord = (id: string) => card(id).locator('[data-state]').textContent()
const barValue = async () => Number(await page.locator('[role=progressbar]').getAttribute('aria-valuenow'))

describe('dashboard page in a real browser', () => {
  it('the list shows every run with its state as a word, a bar and its numbers: the running job RUNNING, the finished one COMPLETE', async () => {
    const runningId = await runIdOf('running')
    await page.goto(dashboard.url)
    await expect.poll(() => stateWord(runningId), { timeout: 10_000 }).toBe('RUNNING')
    await expect.poll(() => stateWord(finishedId)).toBe('COMPLETE')
    const finishedBar = card(finishedId).locator('[role=progressbar]')
    expect(await finishedBar.getAttribute('aria-valuenow')).toBe('200')
    expect(await finishedBar.getAttribute('aria-valuemax')).toBe('200')
    const finishedText = await card(finishedId).innerText()
    expect(finishedText).toContain('200 / 200')
    expect(finishedText).toContain('100.0%')
    // The table's cells: rate, ETA and when it was last updated.
    expect(finishedText).toMatch(/\s[\d,.]+ items\/s\sdone\s[\dsmhd]+ ago$/)
    expect(await card(runningId).innerText()).toMatch(
      /\s(unknown|[\d,.]+ items\/s)\s(\d+s|\d+m\d\ds|unknown \(.+\))( \(.+\))?\s/,
    )
  })

  it('a supervised program with no total shows its count and "total unknown", with nothing made up', async () => {
    const id = await runIdOf('exec')
    await page.goto(dashboard.url)
    await expect.poll(() => stateWord(id), { timeout: 10_000 }).toBe('COMPLETE')
    const text = await card(id).innerText()
    expect(text).toMatch(/[\d,]+ items, total unknown/)
    expect(text).not.toMatch(/\bnull\b|undefined|NaN|%/)
    expect(await card(id).locator('[role=progressbar]').getAttribute('aria-valuetext')).toMatch(/total unknown/)
  })

  it("a running run's page moves its progress bar as commits land, live, each commit within a second, without a reload", async () => {
    const runningId = await runIdOf('running')
    await page.goto(`${dashboard.url}runs/${runningId}`)
    await expect.poll(barValue, { timeout: 10_000 }).toBeGreaterThan(0)
    const first = await barValue()
    await expect.poll(barValue, { timeout: 5_000 }).toBeGreaterThan(first)
    // What the run has just written to disk is on the page within a second.
    const onDisk = (JSON.parse(readFileSync(join(root, 'running', 'progress.json'), 'utf8')) as ProgressSnapshot).done
    await expect.poll(barValue, { timeout: 1_000, interval: 50 }).toBeGreaterThanOrEqual(onDisk)
    // The rest of the run's page: the items/s chart, the commits, the events.
    await expect.poll(() => page.locator('.uplot').count()).toBe(1)
    // The history is re-read every couple of seconds while commits land.
    await expect.poll(() => page.locator('.timeline span').count(), { timeout: 5_000 }).toBeGreaterThan(0)
    await expect.poll(() => page.locator('.events td', { hasText: /^started$/ }).count()).toBe(1)
    expect(await page.locator('main').innerText()).not.toMatch(/\bnull\b|undefined|NaN/)
    await keepScreenshot(page, 'dashboard-run')
  })

  it('a run whose items have stopped finishing says STALLED and for how long; a silent owner says NOT RUNNING', async () => {
    const stalledId = await runIdOf('stalled')
    await page.goto(dashboard.url)
    await expect.poll(() => stateWord(stalledId), { timeout: 15_000 }).toBe('STALLED')
    await expect.poll(() => card(stalledId).locator('.summary').innerText()).toMatch(/nothing has finished for \d+s/)
    expect(await stateWord(forgedId)).toBe('NOT RUNNING')
    expect(await card(forgedId).locator('.summary').innerText()).toMatch(/^not running — last heartbeat 10m\d\ds ago/)
    expect(await page.locator('main').innerText()).not.toMatch(/\bnull\b|undefined|NaN/)
    await keepScreenshot(page, 'dashboard')
  })

  it('shows a waived launch gate as a WAIVED badge, the validation failures and the preflight report, all as text, never as HTML', async () => {
    await page.goto(dashboard.url)
    await expect.poll(() => card(forgedId).locator('[data-gate]').textContent()).toBe('WAIVED')
    await page.goto(`${dashboard.url}runs/${forgedId}`)
    await expect.poll(() => page.locator('h1').textContent()).toBe(HOSTILE)
    expect(await page.locator('.failures', { hasText: 'Validation failures' }).locator('li').allTextContents()).toEqual(
      ['validation: record 7 has <b>square</b> < 0'],
    )
    expect(await page.locator('pre.report').textContent()).toContain('<script>window.__injected = 2</script>')
    expect(await page.locator('main img, main b, main script').count()).toBe(0)
    expect(await page.evaluate(() => (window as unknown as { __injected?: number }).__injected)).toBeUndefined()
    expect(browser.pageErrors).toEqual([])
  })

  it("reads on a phone: one column of rows, nothing wider than the screen; and follows the system's dark mode", async () => {
    await page.setViewportSize({ width: 390, height: 844 })
    await page.goto(dashboard.url)
    await expect.poll(() => page.locator('tr[data-run]').count()).toBe(5)
    const lefts = await page
      .locator('tr[data-run]')
      .evaluateAll((cards) => cards.map((c) => Math.round(c.getBoundingClientRect().left)))
    expect(new Set(lefts).size).toBe(1)
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390)
    await keepScreenshot(page, 'dashboard-phone')
    await page.goto(`${dashboard.url}runs/${await runIdOf('running')}`)
    await expect.poll(() => page.locator('.uplot').count()).toBe(1)
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390)

    const light = await page.evaluate(() => getComputedStyle(document.body).backgroundColor)
    await page.emulateMedia({ colorScheme: 'dark' })
    expect(await page.evaluate(() => getComputedStyle(document.body).backgroundColor)).not.toBe(light)
    await keepScreenshot(page, 'dashboard-phone-dark')
  })
})
