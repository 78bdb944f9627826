import { execFileSync } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { cpSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { request } from 'node:http'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startDashboard } from '../../src/dashboard/server.ts'
import { openBrowser } from '../support/browser.ts'
import { fixture, killedAfterEach, runCli, startCli, tempDir, waitFor } from '../support/cli.ts'

// What a dashboard serving a folder must never do, whatever is put in that folder or sent to it: read outside
// the folder, hang on a file, answer a page of another site, or lock out the person holding its token.

const root = tempDir('longhaul-served-')
const outside = tempDir('longhaul-outside-')
const SECRET = 'SECRET-not-for-the-dashboard'
let realRun = ''
const started = killedAfterEach()

beforeAll(async () => {
  // A real run outside the root, whose journal and files a link inside the root points at.
  const done = await runCli(['run', fixture('squares.ts'), '--out', join(outside, 'elsewhere'), '--total', '50'])
  expect(done.code, done.stderr).toBe(0)
  realRun = join(outside, 'elsewhere')
  writeFileSync(join(outside, 'secret.md'), `# ${SECRET}\n`)
  const secretProgress = JSON.parse(readFileSync(join(realRun, 'progress.json'), 'utf8'))
  writeFileSync(join(outside, 'progress.json'), JSON.stringify({ ...secretProgress, job: SECRET, runId: randomUUID() }))
  mkdirSync(join(outside, 'proofs'))
  writeFileSync(join(outside, 'proofs', 'PREFLIGHT.md'), `# ${SECRET}\n`)

  // Inside the root: an honest run (a copy of the real one, with its own id) whose PREFLIGHT.md is a link out ...
  const honest = join(root, 'honest')
  cpSync(realRun, honest, { recursive: true })
  const progress = JSON.parse(readFileSync(join(realRun, 'progress.json'), 'utf8'))
  writeFileSync(join(honest, 'progress.json'), JSON.stringify({ ...progress, runId: randomUUID() }))
  rmSync(join(honest, '.longhaul'), { recursive: true })
  mkdirSync(join(honest, 'proofs'), { recursive: true })
  symlinkSync(join(outside, 'secret.md'), join(honest, 'proofs', 'PREFLIGHT.md'))
  // ... a run whose progress.json is a link out, one whose proofs/ folder is, one whose journal folder is.
  mkdirSync(join(root, 'linked-progress'))
  symlinkSync(join(outside, 'progress.json'), join(root, 'linked-progress', 'progress.json'))
  cpSync(join(root, 'honest'), join(root, 'linked-proofs'), { recursive: true })
  writeFileSync(join(root, 'linked-proofs', 'progress.json'), JSON.stringify({ ...progress, runId: randomUUID() }))
  rmSync(join(root, 'linked-proofs', 'proofs'), { recursive: true })
  symlinkSync(join(outside, 'proofs'), join(root, 'linked-proofs', 'proofs'))
  mkdirSync(join(root, 'linked-journal'))
  symlinkSync(join(realRun, '.longhaul'), join(root, 'linked-journal', '.longhaul'))
}, 60_000)

/** GET with a Host header of the caller's choosing (fetch does not let one be set). */
function getWithHost(port: number, path: string, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, headers: { host } }, (response) => {
      response.resume()
      resolve(response.statusCode ?? 0)
    })
    req.on('error', reject)
    req.end()
  })
}

describe('the dashboard reads only what is inside its root', () => {
  let dashboard: Awaited<ReturnType<typeof startDashboard>>
  beforeAll(async () => {
    dashboard = await startDashboard({ root, port: 0 })
  })
  afterAll(() => dashboard.close())

  it('no-link-out: a PREFLIGHT.md, progress.json, proofs/ or .longhaul/ that links outside ROOT is never read or served', async () => {
    const list = await (await fetch(`${dashboard.url}api/runs`)).text()
    expect(list).not.toContain(SECRET)
    const { runs } = JSON.parse(list) as { runs: { id: string; dir: string; snapshot: { job: string } }[] }
    // The honest run is listed and its page served, without the linked report; the others are not read at all.
    expect(runs.map((r) => r.dir)).toEqual(['honest'])
    const page = await (await fetch(`${dashboard.url}api/runs/${runs[0]!.id}`)).json()
    expect(page.report).toBeNull()
    expect(JSON.stringify(page)).not.toContain(SECRET)
    // The run the linked journal belongs to is not reachable through the root by its id either.
    const elsewhere = JSON.parse(readFileSync(join(realRun, 'progress.json'), 'utf8')).runId
    expect((await fetch(`${dashboard.url}api/runs/${elsewhere}`)).status).toBe(404)
    expect(await (await fetch(`${dashboard.url}metrics`)).text()).not.toContain(elsewhere)
  })

  it('loopback-only-by-name: on loopback, a request addressed to another name (DNS rebinding) is refused, 403', async () => {
    const port = Number(new URL(dashboard.url).port)
    expect(await getWithHost(port, '/api/runs', 'attacker.example')).toBe(403)
    expect(await getWithHost(port, '/api/runs', `attacker.example:${port}`)).toBe(403)
    expect(await getWithHost(port, '/', `127.0.0.1.attacker.example:${port}`)).toBe(403)
    expect(await getWithHost(port, '/api/runs', `127.0.0.1:${port}`)).toBe(200)
    expect(await getWithHost(port, '/api/runs', `localhost:${port}`)).toBe(200)
    expect(await getWithHost(port, '/api/runs', `[::1]:${port}`)).toBe(200)
    // A port forwarded to another local number (ssh -L 9000:127.0.0.1:PORT) is still this dashboard.
    expect(await getWithHost(port, '/api/runs', 'localhost:9000')).toBe(200)
  })
})

it('no-hang-on-odd-files: a FIFO named progress.json leaves the server answering, and the other runs listed', async () => {
  const served = tempDir('longhaul-fifo-')
  cpSync(join(root, 'honest'), join(served, 'honest'), { recursive: true })
  mkdirSync(join(served, 'fifo'))
  execFileSync('mkfifo', [join(served, 'fifo', 'progress.json')])
  // In a process of its own: a server that blocked on the FIFO would block the test with it.
  const server = startCli(['serve', served, '--port', '0'])
  started.push(server.child)
  let stderr = ''
  server.child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
  const url = await waitFor('the dashboard to start', () => /(http:\/\/\S+)/.exec(stderr)?.[1], 20_000)
  for (let i = 0; i < 3; i++) {
    const response = await fetch(`${url}api/runs`, { signal: AbortSignal.timeout(5_000) })
    const { runs } = (await response.json()) as { runs: { dir: string; problem?: string }[] }
    // The FIFO is never opened for reading: its folder is listed with what is wrong, the other run as it is.
    expect(runs.map((r) => [r.dir, r.problem?.match(/progress\.json is a FIFO/)?.[0]])).toEqual([
      ['fifo', 'progress.json is a FIFO'],
      ['honest', undefined],
    ])
  }
}, 40_000)

it('token-wins: a correct ?token= opens the page whatever cookie another dashboard left, then leaves the address bar; two dashboards on one host stay open side by side', async () => {
  const first = await startDashboard({ root, port: 0, token: 'first-token-first-token' })
  const second = await startDashboard({ root, port: 0, token: 'second-token-second-token' })
  const browser = await openBrowser()
  try {
    const page = await browser.newPage()
    for (const dashboard of [first, second, first, second]) {
      const response = await page.goto(dashboard.url)
      expect(response?.status(), dashboard.url).toBe(200)
      expect(page.url()).not.toContain('token')
      await page.locator('[data-run]').first().waitFor({ timeout: 10_000 })
    }
    // Back to each without the token: its own cookie still lets the page and its requests in.
    for (const dashboard of [first, second]) {
      const bare = dashboard.url.replace(/\?token=.*$/, '')
      expect((await page.goto(bare))?.status(), bare).toBe(200)
      await page.locator('[data-run]').first().waitFor({ timeout: 10_000 })
    }
  } finally {
    await browser.close()
    await first.close()
    await second.close()
  }
}, 60_000)

it('a wildcard bind prints an address another machine can use, not only 127.0.0.1', async () => {
  const dashboard = await startDashboard({ root, port: 0, host: '0.0.0.0' })
  try {
    const hosts = dashboard.urls.map((url) => new URL(url).hostname)
    expect(hosts.at(-1)).toBe('127.0.0.1')
    const { networkInterfaces } = await import('node:os')
    const external = Object.values(networkInterfaces())
      .flatMap((a) => a ?? [])
      .filter((a) => !a.internal && a.family === 'IPv4')
      .map((a) => a.address)
    expect(hosts.slice(0, -1)).toEqual(external)
    expect(dashboard.url).toBe(dashboard.urls[0])
  } finally {
    await dashboard.close()
  }
})

it('a page opened from the printed URL sets a cookie of its own dashboard and is sent on to the address without the token', async () => {
  const dashboard = await startDashboard({ root, port: 0, token: 'third-token-third-token' })
  try {
    const port = new URL(dashboard.url).port
    const opened = await fetch(dashboard.url, { redirect: 'manual' })
    expect(opened.status).toBe(303)
    expect(opened.headers.get('location')).toBe('/')
    expect(opened.headers.get('set-cookie')).toMatch(
      new RegExp(`^longhaul_token_${port}=.*HttpOnly.*SameSite=Strict`, 'i'),
    )
    // The API with ?token= (what `watch URL` and scripts use) answers directly.
    expect((await fetch(`http://127.0.0.1:${port}/api/runs?token=third-token-third-token`)).status).toBe(200)
  } finally {
    await dashboard.close()
  }
})
