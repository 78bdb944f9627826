import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import type { Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startDashboard } from '../../src/dashboard/server.ts'
import { openRunJournal } from '../../src/journal/runJournal.ts'
import type { ProgressSnapshot } from '../../src/telemetry/snapshot.ts'
import { type Browser, keepScreenshot, openBrowser } from '../support/browser.ts'
import { fixture, killedAfterEach, ROOT, runCli, startCli, tempDir, waitFor } from '../support/cli.ts'

// A supervised program's run page in a real Chromium: its throughput drawn from what its journal says of its progress
// (a crash and its restart a break), the last lines of the program running now, read again while the page is open, and
// what each process got done, over real runs: `longhaul exec` of a counter that crashes once halfway and is restarted
// from its checkpoint, a map run, and a program that prints lines until it is stopped.

const root = tempDir('longhaul-program-page-')
const COUNTER = join(ROOT, 'test/fixtures/exec/counter.py')
const HOSTILE = '<img src=x onerror=window.__injected=1>'
const started = killedAfterEach()

let dashboard: { url: string; close(): Promise<void> }
let browser: Browser
let page: Page
const ids: Record<string, string> = {}

const idOf = (name: string) =>
  (JSON.parse(readFileSync(join(root, name, 'progress.json'), 'utf8')) as ProgressSnapshot).runId

beforeAll(async () => {
  const [exec, map] = await Promise.all([
    runCli([
      'exec',
      '--out',
      join(root, 'counter'),
      '--name',
      'counter',
      '--progress-every',
      '1',
      '--restarts',
      '1',
      '--restart-delay',
      '1',
      '--resume-arg',
      '--resume {checkpoint}',
      '--',
      'python3',
      COUNTER,
      '--steps',
      '120',
      '--delay',
      '0.04',
      '--every',
      '10',
      '--crash-at',
      '60',
      '--ckpt-dir',
      join(root, 'ckpt'),
    ]),
    runCli(['run', fixture('squares.ts'), '--out', join(root, 'map'), '--total', '300', '--workers', '2', '--json'], {
      ITEM_MS: '5',
    }),
  ])
  expect(exec.code, exec.stderr).toBe(0)
  expect(map.code, map.stderr).toBe(0)
  ids.counter = idOf('counter')
  ids.map = idOf('map')
  dashboard = await startDashboard({ root, port: 0, host: '127.0.0.1' })
  browser = await openBrowser()
  page = await browser.newPage()
}, 120_000)

afterAll(async () => {
  await browser?.close()
  await dashboard?.close()
})

const section = (title: string) => page.locator('section', { has: page.locator('h2', { hasText: title }) })
const open = async (id: string) => {
  await page.goto(`${dashboard.url}runs/${id}`)
  await expect.poll(() => page.locator('main').getAttribute('aria-busy')).toBe('false')
}
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!

describe("a supervised program's run page", () => {
  it("exec-throughput: a program's steps/s are drawn from its journaled progress, smoothed with the raw beside it, its restart a break", async () => {
    await open(ids.counter!)
    const chart = section('Items per second')
    await expect.poll(() => chart.locator('canvas').count()).toBeGreaterThan(0)
    await expect.poll(() => chart.locator('.chart').isVisible()).toBe(true)
    await chart.locator('summary', { hasText: 'The numbers behind the chart' }).click()
    const rows = chart.locator('table.commits tbody tr')
    await expect.poll(() => rows.count()).toBeGreaterThan(10)
    // The restart (a crash, a second's wait, the program started again from step 60): no line across it.
    expect(await chart.locator('tr[data-gap="true"]').count()).toBe(1)
    const smoothed = (await chart
      .locator('table.commits tbody td:nth-child(2)')
      .evaluateAll((cells) => cells.map((c) => Number(c.getAttribute('data-value'))).filter((v) => v > 0))) as number[]
    // The pace the journal itself tells, each life's steps over its time: what the smoothed line must follow.
    const response = await fetch(`${dashboard.url}api/runs/${ids.counter}/lives`)
    const { lives } = (await response.json()) as { lives: { from: number | null; samples: [number, number][] }[] }
    expect(lives).toHaveLength(2)
    // Each life counted from where it started: 0, then the 60 the program had reported at its checkpoint.
    expect(lives.map((l) => l.from)).toEqual([0, 60])
    expect(lives[1]!.samples[0]![1]).toBeGreaterThanOrEqual(60)
    expect(lives.map((l) => l.samples.at(-1)![1])).toEqual([60, 120])
    const paces = lives.map(
      (l) => ((l.samples.at(-1)![1] - l.samples[0]![1]) * 1000) / (l.samples.at(-1)![0] - l.samples[0]![0]),
    )
    const pace = paces.reduce((a, b) => a + b) / paces.length
    expect(median(smoothed)).toBeGreaterThan(pace * 0.75)
    expect(median(smoothed)).toBeLessThan(pace * 1.25)
    await keepScreenshot(page, 'program-throughput')
  })

  it("exec-work: each life of the program with how far it got, where it last was and its pace; a map run's owner with its items, last item and items/s", async () => {
    await open(ids.counter!)
    const workers = section('Who is working')
    await expect.poll(() => workers.locator('tbody tr').count()).toBe(3)
    const rows = await workers.locator('tbody tr').allInnerTexts()
    // Newest first: the second life went from its checkpoint to the end, the first from the start to its crash.
    expect(rows[0]).toMatch(/program.*exited with code 0/)
    expect(rows[0]).toMatch(/at 120, /)
    expect(rows[1]).toMatch(/program.*exited with code 3/)
    expect(rows[1]).toMatch(/at 60, /)
    const rates = await workers
      .locator('tbody td[data-rate]')
      .evaluateAll((cells) => cells.map((c) => c.getAttribute('data-rate')))
    expect(Number(rates[0])).toBeGreaterThan(0)
    expect(Number(rates[1])).toBeGreaterThan(0)
    await keepScreenshot(page, 'program-work')

    await open(ids.map!)
    const owner = section('Who is working').locator('tbody tr').first()
    await expect.poll(() => owner.innerText()).toMatch(/owner/)
    expect(await owner.locator('td[data-items]').getAttribute('data-items')).toBe('300')
    expect(Number(await owner.locator('td[data-rate]').getAttribute('data-rate'))).toBeGreaterThan(0)
    // The journal names the claim each range was committed under (a run on one machine's owner, `local`); the last
    // item finished is the last of the newest range committed.
    const journal = (await openRunJournal(join(root, 'map')))!
    try {
      const commits = (await journal.store.events()).filter((e) => e.type === 'checkpoint')
      expect(commits.length).toBeGreaterThan(1)
      expect(new Set(commits.map((e) => e.detail.worker))).toEqual(new Set(['local']))
      expect(await owner.innerText()).toContain(`item ${Number(commits.at(-1)!.detail.end) - 1}, `)
    } finally {
      await journal.store.close()
    }
    await keepScreenshot(page, 'program-work-map')
  })

  it('live-output: the last lines of the program running now, as text, bounded and read again while the page is open', async () => {
    const printer = `
import time, sys
for i in range(100000):
    print("line %d ${HOSTILE}" % i, flush=True)
    time.sleep(0.05)
`
    const out = join(root, 'printer')
    const run = startCli(['exec', '--out', out, '--name', 'printer', '--', 'python3', '-c', printer])
    started.push(run.child)
    await waitFor('the program to run', () => {
      try {
        return idOf('printer')
      } catch {
        return undefined
      }
    })
    await open(idOf('printer'))
    const output = section('Program output, now')
    await expect.poll(() => output.isVisible(), { timeout: 15_000 }).toBe(true)
    const lines = output.locator('pre.output')
    await expect.poll(() => lines.innerText(), { timeout: 15_000 }).toMatch(/line \d+/)
    const lastOf = async () => Number(/line (\d+)[^\n]*$/.exec(await lines.innerText())?.[1] ?? -1)
    const first = await lastOf()
    // Read again while the page stays open: a later line arrives without a reload.
    await expect.poll(lastOf, { timeout: 15_000 }).toBeGreaterThan(first + 10)
    const text = await lines.innerText()
    expect(text.split('\n').length).toBeLessThanOrEqual(50)
    expect(text).toContain(HOSTILE)
    expect(await lines.locator('img').count()).toBe(0)
    expect(await output.innerText()).toMatch(/running now/)
    expect(await page.evaluate(() => (window as { __injected?: number }).__injected)).toBeUndefined()
    await keepScreenshot(page, 'program-output-live')
    run.child.kill('SIGINT')
    expect((await run.done).code).toBe(130)
  }, 60_000)
})
