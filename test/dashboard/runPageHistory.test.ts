import { join } from 'node:path'
import type { Page } from 'playwright-core'
import { afterAll, expect, it } from 'vitest'
import { type Dashboard, startDashboard } from '../../src/dashboard/server.ts'
import { type Browser, openBrowser } from '../support/browser.ts'
import { fixture, killedAfterEach, pace, startCli, tempDir, waitFor } from '../support/cli.ts'

// An open run page of a live run, in a real Chromium: while commits land it is sent only what is new (each commit
// once), never the run's whole history again, and what it shows is what a page opened afresh shows.

const root = tempDir('longhaul-run-history-')
const started = killedAfterEach()
let dashboard: Dashboard | undefined
let browser: Browser | undefined

afterAll(async () => {
  await browser?.close()
  await dashboard?.close()
})

interface Answer {
  url: string
  bytes: number
  body: { since?: number; eventCount: number; checkpoints: unknown[]; proofs?: unknown }
}

const sections = (page: Page) =>
  page.evaluate(() =>
    ['commits-title', 'events-title', 'preflight-title'].map(
      (title) => document.querySelector(`section[aria-labelledby="${title}"]`)?.innerHTML ?? '',
    ),
  )

it('run-page-history-incremental: a live run page is sent each commit once, and shows what a fresh page shows', async () => {
  // Items take 20 ms until the page has followed a few commits live; then the rest of the run goes at full speed.
  const paced = pace(20)
  const job = startCli(
    [
      'run',
      fixture('squares.ts'),
      '--out',
      join(root, 'running'),
      '--total',
      '800',
      '--workers',
      '1',
      '--progress-every',
      '1',
    ],
    paced.env,
  )
  started.push(job.child)
  dashboard = await startDashboard({ root, port: 0 })
  const id = await waitFor('the running job to be listed', async () => {
    const { runs } = (await (await fetch(`${dashboard!.url}api/runs`)).json()) as {
      runs: { id: string; dir: string; snapshot: { done: number } }[]
    }
    const run = runs.find((r) => r.dir === 'running')
    return run && run.snapshot.done > 0 ? run.id : undefined
  })
  browser = await openBrowser()
  const page = await browser.newPage()
  const answers: Promise<Answer>[] = []
  page.on('response', (response) => {
    if (new URL(response.url()).pathname !== `/api/runs/${id}`) return
    answers.push(
      response.body().then((body) => ({ url: response.url(), bytes: body.byteLength, body: JSON.parse(String(body)) })),
    )
  })
  await page.goto(`${dashboard.url}runs/${id}`)
  await waitFor('the page to follow two commits after its first answer', () => (answers.length >= 3 ? true : undefined))
  paced.release()
  const finished = await job.done
  expect(finished.code, finished.stderr).toBe(0)

  // Once the run is complete, the page that followed it shows what a page opened now shows.
  const fresh = await browser.newPage()
  await fresh.goto(`${dashboard.url}runs/${id}`)
  await expect.poll(() => fresh.locator('#connection').textContent()).toMatch(/^finished/)
  const expected = await sections(fresh)
  expect(expected[0]).toMatch(/commits?/)
  await expect.poll(() => sections(page), { timeout: 20_000 }).toEqual(expected)

  const followed = await Promise.all(answers)
  const [first, ...later] = followed
  expect(later.length).toBeGreaterThanOrEqual(2)
  // After the first, every answer is asked from where the page stood, and holds only what came after it.
  for (const answer of later) {
    expect(answer.url).toMatch(/[?&]since=\d+/)
    expect(answer.body.since).toBeTypeOf('number')
    expect(answer.body.proofs).toBeUndefined()
  }
  const total = (await (await fetch(`${dashboard.url}api/runs/${id}`)).json()) as Answer['body']
  const received = followed.reduce((sum, answer) => sum + answer.body.checkpoints.length, 0)
  expect(received).toBe(total.checkpoints.length)
  process.stderr.write(
    `run page of a ${total.checkpoints.length}-commit run: ${followed.length} answers, ${followed.reduce((sum, a) => sum + a.bytes, 0)} bytes (the first ${first!.bytes})\n`,
  )
  expect(browser.pageErrors).toEqual([])
}, 120_000)
