import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type Dashboard, startDashboard } from '../../src/dashboard/server.ts'
import { fixture, runCli, startCli, tempDir } from '../support/cli.ts'

// Real runs in a real folder, served by the real server over HTTP.
const root = tempDir('longhaul-dashboard-')
let finishedId = ''

beforeAll(async () => {
  const done = await runCli([
    'run',
    fixture('squares.ts'),
    '--out',
    join(root, 'runs/squares'),
    '--total',
    '300',
    '--workers',
    '1',
    '--json',
  ])
  expect(done.code, done.stderr).toBe(0)
  finishedId = JSON.parse(done.stdout).runId
  // A proof to show beside the run; the smallest crash rehearsal preflight allows (one kill in 20 items) makes it.
  const config = join(tempDir(), 'longhaul.config.mjs')
  writeFileSync(config, 'export default { requireProofAbove: 1000000, crashKills: 1, crashItems: 20 }\n')
  const proved = await runCli([
    'preflight',
    fixture('squares.ts'),
    '--target',
    '300',
    '--out',
    join(root, 'runs/squares'),
    '--config',
    config,
  ])
  expect(proved.code, proved.stderr).toBe(0)
}, 90_000)

/** Reads server-sent events from `url` until `count` have arrived (or the time runs out); returns their data. */
async function readEvents(url: string, count: number, init: RequestInit = {}, timeoutMs = 15_000): Promise<string[]> {
  const controller = new AbortController()
  const timer = setTimeout(() => controller.abort(), timeoutMs)
  const data: string[] = []
  try {
    const response = await fetch(url, { ...init, signal: controller.signal })
    if (!response.ok) throw new Error(`HTTP ${response.status}`)
    const decoder = new TextDecoder()
    let buffer = ''
    for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
      buffer += decoder.decode(chunk, { stream: true })
      let end: number
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const message = buffer.slice(0, end)
        buffer = buffer.slice(end + 2)
        const line = message.split('\n').find((l) => l.startsWith('data:'))
        if (line) data.push(line.slice(5).trim())
        if (data.length >= count) return data
      }
    }
  } catch (error) {
    if (!controller.signal.aborted) throw error
  } finally {
    clearTimeout(timer)
    controller.abort()
  }
  return data
}

describe('dashboard API', () => {
  let dashboard: Dashboard
  let base = ''
  beforeAll(async () => {
    dashboard = await startDashboard({ root, port: 0 })
    base = dashboard.url.replace(/\/$/, '')
  })
  afterAll(() => dashboard.close())

  it("lists every run under the root with its status, and a run's page data has its events and checkpoint timeline", async () => {
    const list = (await (await fetch(`${base}/api/runs`)).json()) as {
      runs: { id: string; dir: string; snapshot: { state: string; done: number } }[]
    }
    expect(list.runs).toEqual([
      expect.objectContaining({
        id: finishedId,
        dir: join('runs', 'squares'),
        snapshot: expect.objectContaining({ state: 'complete', done: 300 }),
      }),
    ])
    const detail = (await (await fetch(`${base}/api/runs/${finishedId}`)).json()) as {
      events: { type: string }[]
      checkpoints: { start: number; end: number }[]
      proofs: { verdict: string; target: number; checks: { id: string }[] }[]
      report: string | null
    }
    expect(detail.proofs).toEqual([expect.objectContaining({ verdict: 'PASSED', target: 300 })])
    expect(detail.proofs[0]!.checks.map((c) => c.id)).toContain('validation')
    expect(detail.report).toMatch(/^# Preflight PASSED: squares/)
    expect(detail.events.map((e) => e.type)).toEqual(expect.arrayContaining(['started', 'complete']))
    expect(detail.checkpoints.at(-1)!.end).toBeLessThanOrEqual(300)
    expect(detail.checkpoints.reduce((sum, c) => sum + c.end - c.start, 0)).toBe(300)
  })

  it("run ids are validated; an unknown run is 404, and no path reaches outside the package's static files", async () => {
    expect((await fetch(`${base}/api/runs/00000000-0000-0000-0000-000000000000`)).status).toBe(404)
    for (const path of [
      '/api/runs/..%2F..%2Fetc%2Fpasswd',
      '/runs/..%2Fpackage.json',
      '/static/..%2F..%2F..%2Fpackage.json',
      '/static/%2e%2e/server.ts',
      '/static/../server.ts',
      '/static/app.js/../../runs.ts',
      '/../../package.json',
    ]) {
      const response = await fetch(`${base}${path}`)
      const text = await response.text()
      expect(response.status, path).toBe(404)
      expect(text, path).not.toMatch(/"name": "longhaul"|import |root:x:0/)
    }
  })

  it('/metrics is Prometheus text, labelled longhaul_job and run, never with a label Prometheus sets itself', async () => {
    const response = await fetch(`${base}/metrics`)
    expect(response.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/)
    const text = await response.text()
    expect(text).toContain(`longhaul_items_done{longhaul_job="squares",run="${finishedId}"} 300`)
    expect(text).toContain(`longhaul_items_total{longhaul_job="squares",run="${finishedId}"} 300`)
    expect(text).toContain(`longhaul_run_state{longhaul_job="squares",run="${finishedId}",state="complete"} 1`)
    expect(text).toContain(`longhaul_run_state{longhaul_job="squares",run="${finishedId}",state="running"} 0`)
    // No label Prometheus sets itself on a scrape (`job`, `instance`): ours would be renamed `exported_…`.
    expect(text).not.toMatch(/[{,](job|instance)="/)
    expect(text).toMatch(/# TYPE longhaul_heartbeat_age_seconds gauge/)
  })

  it("live updates: 100 pages following a running job all receive its next commit, and the server's memory stays bounded", async () => {
    const out = join(root, 'runs/live')
    const run = startCli(['run', fixture('blocking.ts'), '--out', out, '--total', '4000', '--workers', '1', '--json'], {
      ITEM_MS: '3',
    })
    try {
      let id = ''
      for (let i = 0; i < 100 && !id; i++) {
        const runs = ((await (await fetch(`${base}/api/runs`)).json()) as { runs: { id: string; dir: string }[] }).runs
        id = runs.find((r) => r.dir.endsWith('live'))?.id ?? ''
        if (!id) await new Promise((resolve) => setTimeout(resolve, 100))
      }
      expect(id).not.toBe('')
      const before = process.memoryUsage().heapUsed
      const clients = Array.from({ length: 100 }, () => readEvents(`${base}/api/runs/${id}/events`, 2))
      const received = await Promise.all(clients)
      for (const events of received) {
        expect(events).toHaveLength(2)
        const [first, second] = events.map((e) => JSON.parse(e) as { snapshot: { done: number; updatedAt: string } })
        expect(second!.snapshot.updatedAt >= first!.snapshot.updatedAt).toBe(true)
      }
      expect(process.memoryUsage().heapUsed - before).toBeLessThan(64 * 1024 * 1024)
    } finally {
      run.child.kill('SIGINT')
      await run.done
    }
  }, 60_000)
})

describe('dashboard security', () => {
  it('off loopback a token is generated, and every request without it gets 401, live updates and /metrics included', async () => {
    const dashboard = await startDashboard({ root, port: 0, host: '0.0.0.0' })
    try {
      expect(dashboard.token).toMatch(/^[\w-]{20,}$/)
      const port = new URL(dashboard.url).port
      const base = `http://127.0.0.1:${port}`
      for (const path of [
        '/',
        `/runs/${finishedId}`,
        '/api/runs',
        `/api/runs/${finishedId}`,
        `/api/runs/${finishedId}/events`,
        '/metrics',
        '/static/app.js',
      ]) {
        const response = await fetch(`${base}${path}`)
        expect(response.status, path).toBe(401)
        expect(await response.text()).not.toContain(finishedId)
      }
      expect((await fetch(`${base}/api/runs`, { headers: { authorization: 'Bearer wrong' } })).status).toBe(401)
      expect(
        (await fetch(`${base}/api/runs`, { headers: { authorization: `Bearer ${dashboard.token}` } })).status,
      ).toBe(200)
      // Opening the printed URL keeps the token in a cookie for the page's own requests.
      const opened = await fetch(`${base}/?token=${dashboard.token}`, { redirect: 'manual' })
      expect(opened.status).toBe(303)
      const cookie = opened.headers.get('set-cookie')!
      expect(cookie).toMatch(/longhaul_token_\d+=.*HttpOnly.*SameSite=Strict/i)
      expect((await fetch(`${base}/api/runs`, { headers: { cookie: cookie.split(';')[0]! } })).status).toBe(200)
    } finally {
      await dashboard.close()
    }
  })

  it('--metrics-public opens /metrics alone', async () => {
    const dashboard = await startDashboard({ root, port: 0, token: 'sesame-sesame-sesame', metricsPublic: true })
    try {
      const base = dashboard.url.replace(/\/\?token=.*$/, '')
      expect((await fetch(`${base}/metrics`)).status).toBe(200)
      expect((await fetch(`${base}/api/runs`)).status).toBe(401)
    } finally {
      await dashboard.close()
    }
  })

  it('past the cap on live connections, a clear 503', async () => {
    const dashboard = await startDashboard({ root, port: 0, maxStreams: 2 })
    const base = dashboard.url.replace(/\/$/, '')
    const controller = new AbortController()
    try {
      const open = await Promise.all(
        [1, 2].map(() => fetch(`${base}/api/runs/${finishedId}/events`, { signal: controller.signal })),
      )
      expect(open.map((r) => r.status)).toEqual([200, 200])
      // Let the server register both streams.
      await new Promise((resolve) => setTimeout(resolve, 200))
      const refused = await fetch(`${base}/api/runs/${finishedId}/events`)
      expect(refused.status).toBe(503)
      expect(await refused.text()).toMatch(/too many live connections \(2\)/)
    } finally {
      controller.abort()
      await dashboard.close()
    }
  })
})
