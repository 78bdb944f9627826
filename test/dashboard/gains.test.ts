import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import type { Locator, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startDashboard } from '../../src/dashboard/server.ts'
import type { ProgressSnapshot } from '../../src/telemetry/snapshot.ts'
import { DESCENT, runLoop } from '../loop/support.ts'
import { ARTIFACTS, type Browser, keepScreenshot, openBrowser } from '../support/browser.ts'
import { fixture, ROOT, runCli, tempDir } from '../support/cli.ts'

// The run page's further sections in a real Chromium, over real runs: two paid runs of the same job (usage, cost, a
// rate limit, retried attempts), a job whose item 7 always throws, a loop with metrics, and a supervised program that reports a loss,
// logs lines (one of them HTML) and more lines than the page is sent.

const root = tempDir('longhaul-gains-')
const HOSTILE = '<img src=x onerror=window.__injected=1>'
const LOG_LINES = 260

let dashboard: { url: string; close(): Promise<void> }
let browser: Browser
let opening: Promise<Browser> | undefined
let page: Page
const ids: Record<string, string> = {}

/** A supervised program: 40 steps of a falling, noisy loss, a log line per step, and more lines at the end. */
const PROGRAM = `
import sys
sys.path.insert(0, ${JSON.stringify(join(ROOT, 'python'))})
import longhaul, time
for step in range(1, 41):
    longhaul.metric("loss", 1.0 / step + (0.05 if step % 2 else -0.05), step)
    longhaul.progress(step, 40, "step")
    time.sleep(0.02)
longhaul.log(${JSON.stringify(HOSTILE)}, "warning")
for i in range(${LOG_LINES}):
    longhaul.log("line %d" % i)
print(${JSON.stringify(HOSTILE)})
print("trained 40 steps", flush=True)
sys.stderr.write("\\x1b[32mwarning\\x1b[0m: the last words\\n")
`

const paid = (out: string) =>
  runCli(
    [
      'run',
      fixture('paid.ts'),
      '--out',
      join(root, out),
      '--total',
      '60',
      '--concurrency',
      '8',
      '--rate-limit',
      '6000/min',
      '--json',
    ],
    { ITEM_MS: '5', FAIL_FIRST: '1' },
  )

beforeAll(async () => {
  opening = openBrowser() // started while the runs are made
  const made = await Promise.all([
    paid('paid-a'),
    paid('paid-b'),
    runCli(
      ['run', fixture('failing.ts'), '--out', join(root, 'failing'), '--total', '20', '--workers', '1', '--json'],
      {
        FAIL_AT: '7',
      },
    ),
    runLoop(DESCENT, join(root, 'loop'), { CKPT_STEPS: '5' }, 60),
    runCli([
      'exec',
      '--out',
      join(root, 'exec'),
      '--name',
      'trainer',
      '--progress-every',
      '1',
      '--',
      'python3',
      '-c',
      PROGRAM,
    ]),
  ])
  for (const [i, name] of ['paid-a', 'paid-b', 'failing', 'loop', 'exec'].entries()) {
    const result = made[i]!
    expect(result.code, `${name}: ${result.stderr}`).toBe(name === 'failing' ? 1 : 0)
    ids[name] = (JSON.parse(readFileSync(join(root, name, 'progress.json'), 'utf8')) as ProgressSnapshot).runId
  }
  dashboard = await startDashboard({ root, port: 0, host: '127.0.0.1' })
  browser = await opening
  page = await browser.newPage()
}, 120_000)

afterAll(async () => {
  await (await opening?.catch(() => undefined))?.close()
  await dashboard?.close()
})

const snapshotOf = (name: string): ProgressSnapshot =>
  JSON.parse(readFileSync(join(root, name, 'progress.json'), 'utf8')) as ProgressSnapshot
const section = (title: string) => page.locator('section', { has: page.locator('h2', { hasText: title }) })
/** The section alone, as test-artifacts/<name>.png: the full page of a run with many events is too tall to look at. */
const keepSection = (locator: Locator, name: string) => locator.screenshot({ path: join(ARTIFACTS, `${name}.png`) })
const open = async (name: string) => {
  await page.goto(`${dashboard.url}runs/${ids[name]}`)
  await expect.poll(() => page.locator('main').getAttribute('aria-busy')).toBe('false')
}

describe('the run page shows what it spends, what it is, who works on it, its logs, metrics and history', () => {
  it('services: the items in flight, the rate limit and time waiting on it, usage totals and rates, and the cost, as progress.json says', async () => {
    await open('paid-a')
    const s = snapshotOf('paid-a')
    const services = section('Services')
    await expect.poll(() => services.innerText()).toContain('Cost so far')
    const text = await services.innerText()
    expect(text).toMatch(/In flight at once\s+8 items over 1 worker thread/)
    expect(text).toMatch(/Rate limit\s+[\d,]+ requests\/(min|s)/)
    expect(text).toMatch(/Waiting on the limit\s+\d+s over items/)
    expect(text).toContain(`tokens ${s.usage!.tokens!.toLocaleString('en-US')}`)
    expect(text).toContain(`Cost so far\n$${s.usage!.usd!.toPrecision(2)}`)
    // Every seventh item's first attempt reported usage and threw: paid, and shown apart from the totals.
    expect(text).toMatch(/Used by failed attempts.*\s+tokens 45 · usd \$0\.00045/)
    expect(await page.evaluate(() => (window as { __injected?: number }).__injected)).toBeUndefined()
    await keepScreenshot(page, 'gains-services-identity')
    await keepSection(services, 'gains-services')
  })

  it('identity: the command line, job, params, seed, fingerprint, job files, hosts, longhaul version and launch gate, from the journal', async () => {
    await open('paid-a')
    const identity = section('Identity')
    await expect.poll(() => identity.innerText()).toContain('Fingerprint')
    const text = await identity.innerText()
    expect(text).toContain(`run ${fixture('paid.ts')} --out ${join(root, 'paid-a')} --total 60 --concurrency 8`)
    expect(text).toMatch(/Job\s+paid/)
    expect(text).toMatch(/Seed\s+\d+/)
    expect(text).toMatch(/Fingerprint\s+[0-9a-f]{64}/)
    expect(text).toContain('paid.ts')
    expect(text).toMatch(/longhaul\s+0\.\d+\.\d+ \(this dashboard: 0\.\d+\.\d+\)/)
    expect(text).toMatch(/Launch gate\s+no proof needed/)
    expect(text).toMatch(/Digest\s+[0-9a-f]{64}/)
    await keepSection(identity, 'gains-identity')
  })

  it('who is working: each process the journal names, with its host, pid and how it ended', async () => {
    await open('exec')
    const workers = section('Who is working')
    await expect.poll(() => workers.locator('tbody tr').count()).toBe(2)
    const rows = await workers.locator('tbody tr').allInnerTexts()
    expect(rows[0]).toMatch(/program\s+\S+\s+\d+\s+.+exited with code 0/)
    await keepSection(workers, 'gains-workers')
    expect(rows[1]).toMatch(/owner\s+\S+\s+\d+\s+.+done at/)
  })

  it("logs: the item that failed the run, its error and the job's own stack; a program's newest log lines as text, the older ones counted", async () => {
    await open('failing')
    const logs = section('Logs and errors')
    await expect.poll(() => logs.innerText()).toContain('item 7')
    const text = await logs.innerText()
    expect(text).toContain('cannot make item 7')
    expect(text).toMatch(/after 2 attempts/)
    expect(await logs.locator('pre.stack').innerText()).toMatch(/failing\.ts:\d+/)
    await keepSection(logs, 'gains-logs-stack')

    await open('exec')
    const lines = section('Logs and errors').locator('ol.lines li')
    await expect.poll(() => lines.count()).toBe(200)
    expect(await lines.last().innerText()).toContain(`line ${LOG_LINES - 1}`)
    expect(await section('Logs and errors').innerText()).toContain(`(${LOG_LINES + 1 - 200} older not shown)`)
    // Its own output, not the protocol's: the last lines of its life, as text.
    const output = section('Logs and errors').locator('pre.output')
    expect(await output.innerText()).toMatch(/trained 40 steps\nwarning: the last words$/)
    expect(await output.innerText()).toContain(HOSTILE)
    expect(await section('Logs and errors').innerText()).toMatch(/Life 1 \(pid \d+\) exited with code 0/)
    const response = await fetch(`${dashboard.url}api/runs/${ids.exec}/facts`)
    const facts = (await response.json()) as { logs: { message: string }[] }
    expect(facts.logs.length).toBe(200)
  })

  it("metrics: a program's loss drawn smoothed with the raw values beside it, against step or time; HTML in a log line stays text", async () => {
    await open('exec')
    const metrics = section('Metrics')
    await expect.poll(() => metrics.locator('[data-metric="loss"] canvas').count()).toBeGreaterThan(0)
    const legend = await metrics.locator('[data-metric="loss"] .u-legend').innerText()
    expect(legend).toContain('loss (smoothed)')
    expect(legend).toContain('loss (raw)')
    expect(await metrics.locator('.metric-last').innerText()).toMatch(/latest -0\.025 at step 40, .* · 40 points/)
    expect(await metrics.locator('[data-metric="loss"] .chart').getAttribute('data-x')).toBe('step')
    await metrics.locator('select').selectOption('time')
    await expect.poll(() => metrics.locator('[data-metric="loss"] .chart').getAttribute('data-x')).toBe('time')
    expect(await page.evaluate(() => (window as { __injected?: number }).__injected)).toBeUndefined()
    await keepSection(metrics, 'gains-metrics')
    await keepSection(section('Logs and errors'), 'gains-logs-program')
  })

  it("metrics: a loop's metrics at its checkpoints, one chart each, against its steps", async () => {
    await open('loop')
    const metrics = section('Metrics')
    for (const name of ['loss', 'score'])
      await expect.poll(() => metrics.locator(`[data-metric="${name}"] canvas`).count()).toBeGreaterThan(0)
    expect(await metrics.locator('[data-metric="loss"] .metric-last').innerText()).toMatch(
      /at step 60, .* · \d+ points/,
    )
    expect(await metrics.locator('[data-metric="loss"] .chart').getAttribute('data-x')).toBe('step')
    await keepSection(metrics, 'gains-metrics-loop')
  })

  it('history: every run of the job side by side, and two compared: the same digest said in words', async () => {
    await open('paid-a')
    const history = section('History of this job')
    await expect.poll(() => history.locator('table.history tbody tr').count()).toBe(2)
    expect(await history.innerText()).toContain('Same digest: the two runs made the same bytes.')
    const compared = await history.locator('table.compare tbody tr').allInnerTexts()
    expect(compared.find((r) => r.startsWith('Digest'))).toMatch(/same$/)
    expect(compared.find((r) => r.startsWith('Folder'))).toMatch(/differs$/)
    await keepSection(history, 'gains-history')
  })

  it('on a phone in dark mode the sections fit the screen: nothing wider than the viewport', async () => {
    const phone = await browser.newPage()
    await phone.setViewportSize({ width: 390, height: 844 })
    await phone.emulateMedia({ colorScheme: 'dark' })
    for (const name of ['paid-a', 'exec']) {
      await phone.goto(`${dashboard.url}runs/${ids[name]}`)
      await expect.poll(() => phone.locator('section h2', { hasText: 'Identity' }).count()).toBe(1)
      await expect.poll(() => phone.locator('section', { hasText: 'Fingerprint' }).count()).toBeGreaterThan(0)
      expect(await phone.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390)
      await phone.evaluate(() => {
        // The sections this file is about, not the run's long event list, fill the phone's screenshot.
        for (const h of document.querySelectorAll('section h2'))
          if (/Checkpoints|Events|Preflight|Items per second/.test(h.textContent ?? ''))
            (h.parentElement as HTMLElement).hidden = true
      })
      await keepScreenshot(phone, `gains-phone-dark-${name}`)
    }
    await phone.close()
  })
})
