import { rmSync, writeFileSync } from 'node:fs'
import { hostname } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startDashboard } from '../../src/dashboard/server.ts'
import { type Browser, keepScreenshot, openBrowser } from '../support/browser.ts'
import { fixture, killedAfterEach, tempDir } from '../support/cli.ts'
import { sql, usePostgres } from '../support/postgres.ts'
import {
  holdsClaim,
  type SharedRunSpec,
  startSharedOwner,
  startSharedWorker,
  summaryOf,
} from '../support/sharedProcesses.ts'

// Who is working on a run shared by two processes (an owner and a worker that joined, a real PostgreSQL journal), in a
// real Chromium: which of them holds a claim while they work, then what each committed, its last item and its pace,
// counted from the claim each range was committed under.

const server = usePostgres()
const started = killedAfterEach()
const root = tempDir('longhaul-shared-work-')
let dashboard: { url: string; close(): Promise<void> }
let browser: Browser

beforeAll(async () => {
  dashboard = await startDashboard({ root, port: 0, host: '127.0.0.1' })
  browser = await openBrowser()
}, 60_000)

afterAll(async () => {
  await browser?.close()
  await dashboard?.close()
})

describe('who is working on a shared run', () => {
  it("shared-work: each process's claims while it works, then the items it committed, its last item and items/s, from the claim each commit was made under", async () => {
    const url = await server().createDatabase()
    const hold = join(root, 'hold')
    writeFileSync(hold, '')
    const spec: SharedRunSpec = {
      job: fixture('squares.ts'),
      url,
      out: join(root, 'shared'),
      flags: ['--workers', '1'],
      env: { ITEM_MS: '15', HOLD_FILE: hold },
      started,
    }
    const owner = await startSharedOwner(spec, 400)
    const worker = startSharedWorker(spec, owner.runId)
    await holdsClaim(url, owner.runId, worker.child.pid!, 'the worker')

    const page = await browser.newPage()
    await page.goto(`${dashboard.url}runs/${owner.runId}`)
    const workers = page.locator('section', { has: page.locator('h2', { hasText: 'Who is working' }) })
    const row = (role: string, pid: number) =>
      workers.locator('tbody tr', { hasText: role }).filter({ has: page.locator(`td:text-is("${pid}")`) })
    await expect
      .poll(() => row('worker', worker.child.pid!).innerText(), { timeout: 20_000 })
      .toContain('holds a claim')
    await keepScreenshot(page, 'shared-work-claims')

    rmSync(hold)
    const [ownerEnd, workerEnd] = await Promise.all([owner.done, worker.done])
    summaryOf(ownerEnd)
    summaryOf(workerEnd)
    // What the journal says each committed, by the claim's name.
    const commits = await sql<{ detail: { start: number; end: number; worker: string } }>(
      url,
      "SELECT detail FROM longhaul.events WHERE type = 'checkpoint' ORDER BY id",
    )
    const itemsOf = (pid: number) =>
      commits
        .filter((c) => c.detail.worker === `${hostname()}:${pid}`)
        .reduce((sum, c) => sum + c.detail.end - c.detail.start, 0)
    const mine = { owner: itemsOf(owner.child.pid!), worker: itemsOf(worker.child.pid!) }
    expect(mine.owner + mine.worker).toBe(400)
    expect(mine.worker).toBeGreaterThan(0)

    await page.reload()
    for (const [role, pid, items] of [
      ['owner', owner.child.pid!, mine.owner],
      ['worker', worker.child.pid!, mine.worker],
    ] as const) {
      const cells = row(role, pid)
      await expect
        .poll(() => cells.locator('td[data-items]').getAttribute('data-items'), { timeout: 20_000 })
        .toBe(String(items))
      expect(await cells.innerText()).toMatch(/item \d+, /)
      // The run is complete: nobody is at work on it, the worker that joined included.
      expect(await cells.innerText()).toMatch(/\sdone at /)
    }
    await keepScreenshot(page, 'shared-work-done')
    await page.close()
  }, 120_000)
})
