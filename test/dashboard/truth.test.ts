import { spawnSync } from 'node:child_process'
import { cpSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { hostname } from 'node:os'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import type { Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { fetchRunStatus } from '../../src/dashboard/remote.ts'
import { startDashboard } from '../../src/dashboard/server.ts'
import { runPaths } from '../../src/files/runPaths.ts'
import type { ProgressSnapshot } from '../../src/telemetry/snapshot.ts'
import { type Browser, keepScreenshot, openBrowser } from '../support/browser.ts'
import { fixture, runCli, startCli, tempDir } from '../support/cli.ts'

// The dashboard when things go wrong, in a real Chromium over real runs: a stalled run's ETA, a steady run's chart
// and the gap of a resumed one, a run folder deleted, copied or damaged, a dead run's lost items, a finished run's
// heartbeat.

const root = tempDir('longhaul-truth-')
let dashboard: { url: string; close(): Promise<void> }
let browser: Browser
let page: Page
const stalled = startCli(
  [
    'run',
    fixture('blocking.ts'),
    '--out',
    join(root, 'stalled'),
    '--total',
    '400',
    '--workers',
    '1',
    '--stall-after',
    '1',
    '--progress-every',
    '1',
  ],
  { ITEM_MS: '10', BLOCK_AT: '60', BLOCK_MS: '120000' },
)

const snapshot = (overrides: Partial<ProgressSnapshot>): ProgressSnapshot => {
  const now = new Date().toISOString()
  return {
    job: 'forged',
    runId: crypto.randomUUID(),
    state: 'running',
    done: 400,
    total: 1000,
    percent: 40,
    inFlight: 0,
    itemsPerSecond: 39,
    etaSeconds: 15,
    etaLow: 12,
    etaHigh: 18,
    etaUnknownBecause: null,
    startedAt: now,
    updatedAt: now,
    heartbeatAt: now,
    lastCheckpointAt: now,
    checkpoints: 3,
    workers: 1,
    elapsedSeconds: 10,
    stalledForSeconds: null,
    stallAfterSeconds: 300,
    refreshSeconds: 10,
    heartbeatSeconds: 10,
    owner: { pid: process.pid, host: hostname() },
    gate: null,
    error: null,
    ...overrides,
  }
}

function writeRun(dir: string, s: ProgressSnapshot): void {
  mkdirSync(dir, { recursive: true })
  writeFileSync(join(dir, 'progress.json'), JSON.stringify(s))
}

beforeAll(async () => {
  // Two sessions of a steady job (two workers, ranges of about 40 items): interrupted, then resumed. It runs at 400
  // items/s; its commits are then re-timed to 40 items/s, with the sessions 4.5 s apart (paceCommits).
  const steady = [
    ...['run', fixture('steady.ts'), '--out', join(root, 'steady'), '--total', '1000', '--workers', '2'],
    ...['--checkpoint-every', '0.2'],
  ]
  const first = startCli(steady, { ITEM_MS: '5' })
  await waitFor(
    () => progressOf(join(root, 'steady'))?.done ?? 0,
    (done) => done >= 350,
    30_000,
  )
  first.child.kill('SIGINT')
  expect((await first.done).code).toBe(130)
  const second = await runCli(steady, { ITEM_MS: '5' })
  expect(second.code, second.stderr).toBe(0)
  paceCommits(join(root, 'steady'), 40, 4_500)
  dashboard = await startDashboard({ root, port: 0, host: '127.0.0.1' })
  browser = await openBrowser()
  page = await browser.newPage()
}, 90_000)

afterAll(async () => {
  stalled.child.kill('SIGKILL')
  await stalled.done
  await browser?.close()
  await dashboard?.close()
})

/**
 * Makes the run in `dir` as steady as its job means it to be: each session's commits are re-timed in its journal as
 * its workers would have made them at exactly `perSecond` items a second together (each worker makes one range
 * after another at its share of the pace; a range goes to the worker free first), each session starts `gapMs` after
 * the last one's last event, and the whole is moved back so that the run ends when it really did. The run is real
 * (two sessions of a real job, ranges as its workers made them); only the moments of its events are evened out, so
 * that a machine that freezes the job for a second while the test runs does not make the run itself unsteady, and
 * the job need not take the time its pace would. A session's end never comes before its last commit.
 */
function paceCommits(dir: string, perSecond: number, gapMs: number): void {
  const db = new Database(runPaths(dir).journal)
  try {
    const events = db.prepare('SELECT id, at, type, detail FROM events ORDER BY id').all() as {
      id: number
      at: number
      type: string
      detail: string
    }[]
    const times = new Map<number, number>()
    let free: number[] = []
    let last = 0
    let shift = 0
    for (const e of events) {
      const detail = JSON.parse(e.detail) as { workers?: number; start?: number; end?: number }
      let at = e.at + shift
      if (e.type === 'started' || e.type === 'resumed') {
        if (times.size > 0) shift = last + gapMs - e.at
        at = e.at + shift
        free = Array.from({ length: detail.workers ?? 1 }, () => at)
      } else if (e.type === 'checkpoint') {
        const worker = free.indexOf(Math.min(...free))
        free[worker]! += (1000 * (detail.end! - detail.start!) * free.length) / perSecond
        at = Math.round(free[worker]!)
      } else if (['interrupted', 'complete', 'failed'].includes(e.type)) {
        at = Math.max(at, last + 50)
      }
      times.set(e.id, at)
      last = Math.max(last, at)
    }
    const back = last - Math.max(...events.map((e) => e.at))
    const retime = db.prepare('UPDATE events SET at = ? WHERE id = ?')
    for (const [id, at] of times) retime.run(at - back, id)
  } finally {
    db.close()
  }
}

function progressOf(dir: string): ProgressSnapshot | undefined {
  try {
    return JSON.parse(readFileSync(join(dir, 'progress.json'), 'utf8')) as ProgressSnapshot
  } catch {
    return undefined
  }
}

async function waitFor<T>(read: () => T | Promise<T>, ok: (value: T) => boolean, timeoutMs: number): Promise<T> {
  const until = Date.now() + timeoutMs
  for (;;) {
    const value = await read()
    if (ok(value)) return value
    if (Date.now() > until) throw new Error(`timed out; last value ${JSON.stringify(value)}`)
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
}

async function runsListed(): Promise<{ id: string; dir: string; copyOf?: string; problem?: string }[]> {
  return ((await (await fetch(`${dashboard.url}api/runs`)).json()) as { runs: [] }).runs
}

/** A run's row in the list. */
const row = (dir: string) => page.locator(`tr[data-dir="${dir}"]`)
/** Opens the run page of the run in `dir` (by its folder) and waits for its card. */
async function openRun(dir: string): Promise<void> {
  const id = (await runsListed()).find((run) => run.dir === dir)!.id
  await page.goto(`${dashboard.url}runs/${id}?dir=${encodeURIComponent(dir)}`)
  await expect.poll(() => page.locator('article.run .dir').textContent(), { timeout: 10_000 }).toBe(dir)
}
const fact = (key: string) => page.locator(`[data-fact="${key}"] dd`)
const secondsOf = (text: string) =>
  [...text.matchAll(/(\d+)([dhms])/g)].reduce(
    (s, [, n, u]) => s + Number(n) * { d: 86400, h: 3600, m: 60, s: 1 }[u!]!,
    0,
  )

describe('the dashboard tells the truth when things go wrong', () => {
  it('honest-eta on the page: a stalled run says its ETA is unknown, and why, and the estimate beside it grows, never counts down', async () => {
    const dir = join(root, 'stalled')
    await waitFor(
      () => progressOf(dir)?.state,
      (state) => state === 'stalled',
      30_000,
    )
    const id = progressOf(dir)!.runId
    await page.goto(`${dashboard.url}runs/${id}`)
    await expect
      .poll(() => fact('eta').textContent(), { timeout: 10_000 })
      .toMatch(/^unknown \(stalled: nothing has finished for \d/)
    const estimate = async () =>
      secondsOf(/\); (.+) at the pace so far/.exec((await fact('eta').textContent()) ?? '')?.[1] ?? '')
    // Never below what the run's files said a moment ago (the page has had a newer status since, and a stalled run's
    // pace only slows).
    const earlier = (await (await fetch(`${dashboard.url}api/runs/${id}`)).json()) as { snapshot: ProgressSnapshot }
    await new Promise((resolve) => setTimeout(resolve, 2_000))
    const before = await estimate()
    expect(before).toBeGreaterThanOrEqual(Math.floor(earlier.snapshot.etaSeconds!))
    await expect.poll(estimate, { timeout: 10_000 }).toBeGreaterThan(before)
    await keepScreenshot(page, 'dashboard-stalled-eta')
  })

  it("throughput over time windows: a steady run's chart is flat within ±10% in each session, and the time between two sessions is drawn as a gap", async () => {
    const id = progressOf(join(root, 'steady'))!.runId
    await page.goto(`${dashboard.url}runs/${id}`)
    await expect.poll(() => page.locator('.uplot').count(), { timeout: 10_000 }).toBe(1)
    await page.locator('.chart-numbers summary').click()
    const rows = await page.locator('.chart-numbers tbody tr').evaluateAll((trs) =>
      trs.map((tr) => ({
        gap: tr.getAttribute('data-gap') === 'true',
        smoothed: tr.children[1]!.getAttribute('data-value') ?? '',
      })),
    )
    const gaps = rows.flatMap((row, i) => (row.gap ? [i] : []))
    expect(gaps).toHaveLength(1)
    const sessions = [rows.slice(0, gaps[0]), rows.slice(gaps[0]! + 1)].map((part) =>
      part.filter((row) => row.smoothed !== '').map((row) => Number(row.smoothed)),
    )
    for (const rates of sessions) {
      expect(rates.length).toBeGreaterThan(10)
      const mean = rates.reduce((a, b) => a + b, 0) / rates.length
      for (const r of rates) expect(Math.abs(r / mean - 1), `${r} against a mean of ${mean}`).toBeLessThanOrEqual(0.1)
    }
    await page.locator('.chart-numbers summary').click()
    await keepScreenshot(page, 'dashboard-chart-steady-with-gap')
  })

  it('a run whose folder is deleted while its page is open says GONE, why, and stops following it', async () => {
    const dir = join(root, 'deleted')
    const s = snapshot({ job: 'deleted' })
    writeRun(dir, s)
    await page.goto(`${dashboard.url}runs/${s.runId}`)
    await expect.poll(() => page.locator('.run .state').textContent(), { timeout: 10_000 }).toBe('RUNNING')
    rmSync(dir, { recursive: true })
    await expect.poll(() => page.locator('.run .state').textContent(), { timeout: 15_000 }).toBe('GONE')
    expect(await page.locator('.run .summary').textContent()).toMatch(/its folder deleted no longer exists/)
    expect(await page.locator('#connection').textContent()).toBe('stopped: the run is gone')
    // Its page data says so too, rather than "no such run".
    const asked = await fetch(`${dashboard.url}api/runs/${s.runId}?dir=deleted`)
    expect(asked.status).toBe(410)
    // And `watch URL` says it, rather than "answered 404".
    await expect(fetchRunStatus(`${dashboard.url}runs/${s.runId}?dir=deleted`, Date.now())).rejects.toThrow(
      /^the run is gone: its folder deleted no longer exists/,
    )
    await keepScreenshot(page, 'dashboard-run-gone')
  })

  it('a run page whose live updates start only after its folder was deleted says GONE: what happened before they started is asked for', async () => {
    const dir = join(root, 'deleted-early')
    const s = snapshot({ job: 'deleted-early' })
    writeRun(dir, s)
    // A browser without shared workers asks for changes itself, where the test can hold its first question back.
    const early = await browser.newPage()
    let release = () => {}
    const released = new Promise<void>((resolve) => {
      release = resolve
    })
    try {
      await early.addInitScript(() => {
        delete (window as { SharedWorker?: unknown }).SharedWorker
      })
      await early.route('**/api/changes**', async (route) => {
        await released
        await route.continue()
      })
      await early.goto(`${dashboard.url}runs/${s.runId}`)
      await expect.poll(() => early.locator('.run .state').textContent(), { timeout: 10_000 }).toBe('RUNNING')
      rmSync(dir, { recursive: true })
      // The server has noticed before the page's live updates start: they will not carry the removal.
      await expect
        .poll(async () => (await runsListed()).some((run) => run.id === s.runId), { timeout: 10_000 })
        .toBe(false)
      release()
      // Well before the page would ask on its own after 15 s of silence.
      await expect.poll(() => early.locator('.run .state').textContent(), { timeout: 8_000 }).toBe('GONE')
    } finally {
      release()
      await early.close()
    }
  })

  it('a copied run folder (same run id) is listed twice, each openable by its folder, the copy marked; /metrics repeats no series', async () => {
    cpSync(join(root, 'steady'), join(root, 'steady-copy'), { recursive: true })
    const id = progressOf(join(root, 'steady'))!.runId
    // The index of the root finds a new folder within its rescan (2 s).
    const listed = await waitFor(
      async () => (await runsListed()).filter((run) => run.id === id),
      (runs) => runs.length === 2,
      10_000,
    )
    expect(listed.map((run) => [run.dir, run.copyOf])).toEqual([
      ['steady', undefined],
      ['steady-copy', 'steady'],
    ])
    await page.goto(dashboard.url)
    await expect.poll(() => page.locator(`tr[data-run="${id}"]`).count(), { timeout: 10_000 }).toBe(2)
    const rows = await page.locator('tr[data-run]').count()
    expect(await page.locator('.overview').textContent()).toMatch(new RegExp(`^${rows} runs`))
    expect(await row('steady-copy').locator('.summary').textContent()).toBe('a copy of the run in steady')
    await keepScreenshot(page, 'dashboard-copied-run-list')
    for (const dir of ['steady', 'steady-copy']) {
      await page.goto(dashboard.url)
      await row(dir).locator('.job a').click()
      await expect.poll(() => page.locator('article.run .dir').textContent(), { timeout: 10_000 }).toBe(dir)
      expect(new URL(page.url()).searchParams.get('dir')).toBe(dir)
    }
    expect(await page.locator('article.run .badge', { hasText: 'COPY' }).isVisible()).toBe(true)
    expect(await fact('copy').textContent()).toMatch(/^steady — this folder is a copy/)
    await keepScreenshot(page, 'dashboard-copied-run')
    const series = (await (await fetch(`${dashboard.url}metrics`)).text())
      .split('\n')
      .filter((l) => l && !l.startsWith('#'))
    expect(series.filter((line) => line.includes(id)).length).toBeGreaterThan(0)
    expect(new Set(series.map((line) => line.replace(/ \S+$/, ''))).size).toBe(series.length)
  })

  it('a malformed progress.json never hides a run: it is listed with the file named and what to do, from its journal where it has one', async () => {
    const done = await runCli(['run', fixture('squares.ts'), '--out', join(root, 'damaged'), '--total', '50'])
    expect(done.code, done.stderr).toBe(0)
    writeFileSync(join(root, 'damaged', 'progress.json'), '{"job": "squares", "done": 5')
    writeRun(join(root, 'only-file'), snapshot({}))
    writeFileSync(join(root, 'only-file', 'progress.json'), 'not json at all')
    await page.goto(dashboard.url)
    await expect.poll(() => row('damaged').count(), { timeout: 10_000 }).toBe(1)
    // The root's index learns of the files just rewritten within its refresh; the list, written from it and kept up
    // to date by the live stream, may show the run as it was an instant before (RUNNING 0 / 50) until then.
    await expect.poll(() => row('damaged').innerText(), { timeout: 10_000 }).toContain('50 / 50')
    expect(await row('only-file').locator('.state').textContent()).toBe('UNREADABLE')
    expect(await row('only-file').locator('.summary').textContent()).toMatch(
      /^the run in only-file is damaged: its progress\.json is malformed .* run the same `longhaul run` command/,
    )
    expect(await page.locator('main').innerText()).not.toMatch(/\bnull\b|undefined|NaN/)
    await keepScreenshot(page, 'dashboard-malformed-progress-list')
    await openRun('damaged')
    expect(await page.locator('article.run').innerText()).toMatch(
      /Cannot read\s+its progress\.json is malformed .*what is shown was read from the journal\. .*longhaul run/s,
    )
    await keepScreenshot(page, 'dashboard-malformed-progress')
  })

  it("a dead run's finished-but-uncommitted items are said to be lost and made again on resume; a finished run shows when it finished, not a growing heartbeat age", async () => {
    const deadPid = spawnSync('true').pid!
    const twoMinutesAgo = new Date(Date.now() - 120_000).toISOString()
    const s = snapshot({
      job: 'dead',
      inFlight: 26,
      owner: { pid: deadPid, host: hostname() },
      heartbeatAt: twoMinutesAgo,
      updatedAt: twoMinutesAgo,
    })
    writeRun(join(root, 'dead'), s)
    await expect
      .poll(async () => (await runsListed()).some((run) => run.dir === 'dead'), { timeout: 10_000 })
      .toBe(true)
    await openRun('dead')
    await expect.poll(() => page.locator('article.run .state').textContent(), { timeout: 10_000 }).toBe('NOT RUNNING')
    const dead = await page.locator('article.run').innerText()
    expect(dead).toContain('26 finished but never committed: lost, they will be made again on resume')
    expect(dead).not.toContain('not yet committed')
    await keepScreenshot(page, 'dashboard-dead-run')
    await openRun('steady')
    const finished = page.locator('[data-fact="heartbeat"]')
    expect(await finished.locator('dt').textContent()).toBe('Finished')
    const at = await finished.locator('dd').textContent()
    expect(at).not.toMatch(/ago/)
    await new Promise((resolve) => setTimeout(resolve, 2_100))
    expect(await finished.locator('dd').textContent()).toBe(at)
    await keepScreenshot(page, 'dashboard-finished-run')
    // The longer sentences of these states still fit a phone, in light and dark.
    await page.setViewportSize({ width: 390, height: 844 })
    await page.goto(dashboard.url)
    await expect.poll(() => row('only-file').count(), { timeout: 10_000 }).toBe(1)
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390)
    await keepScreenshot(page, 'dashboard-truth-phone')
    await page.emulateMedia({ colorScheme: 'dark' })
    await keepScreenshot(page, 'dashboard-truth-phone-dark')
  })
})
