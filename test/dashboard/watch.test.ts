import { readFileSync } from 'node:fs'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { expect, it } from 'vitest'
import { renderStatus } from '../../src/cli/commands/status.ts'
import { fetchRunStatus } from '../../src/dashboard/remote.ts'
import { startDashboard } from '../../src/dashboard/server.ts'
import { fixture, pace, runCliHere, startCli, tempDir, waitFor } from '../support/cli.ts'

it('watch URL follows a run through the dashboard until it ends, as watch DIR does locally', async () => {
  const root = tempDir()
  // Items take 50 ms (30 s in all, for a busy machine) until watch has shown the run live; then it ends at full speed.
  const paced = pace(50)
  const run = startCli(
    ['run', fixture('squares.ts'), '--out', join(root, 'live'), '--total', '600', '--workers', '1'],
    paced.env,
  )
  const dashboard = await startDashboard({ root, port: 0 })
  try {
    let id = ''
    for (let i = 0; i < 100 && !id; i++) {
      id = ((await (await fetch(`${dashboard.url}api/runs`)).json()) as { runs: { id: string }[] }).runs[0]?.id ?? ''
      if (!id) await new Promise((resolve) => setTimeout(resolve, 100))
    }
    const watching = startCli(['watch', `${dashboard.url}runs/${id}`])
    let shown = ''
    watching.child.stdout!.on('data', (chunk: Buffer) => (shown += chunk.toString()))
    await waitFor('watch to show the run', () => (/RUNNING/.test(shown) ? true : undefined))
    paced.release()
    const watched = await watching.done
    expect(watched.code, watched.stderr).toBe(0)
    const lines = watched.stdout.trim().split('\n')
    expect(lines.at(-1)).toMatch(/COMPLETE 600\/600/)
    expect(lines.length).toBeGreaterThan(1)
  } finally {
    await run.done
    await dashboard.close()
  }
}, 60_000)

it('watch URL reads a published progress.json; an unreachable or token-protected URL is a clear usage error', async () => {
  const out = join(tempDir(), 'done')
  expect((await runCliHere(['run', fixture('squares.ts'), '--out', out, '--total', '50'])).code).toBe(0)
  const progress = readFileSync(join(out, 'progress.json'))
  const server = createServer((req, res) => {
    if (req.url === '/bucket/progress.json') res.writeHead(200, { 'content-type': 'application/json' }).end(progress)
    else res.writeHead(404).end()
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as AddressInfo).port
  try {
    const published = await runCliHere(['watch', `http://127.0.0.1:${port}/bucket/progress.json`])
    expect(published.code, published.stderr).toBe(0)
    expect(published.stdout).toMatch(/COMPLETE 50\/50/)
    const missing = await runCliHere(['watch', `http://127.0.0.1:${port}/nothing.json`])
    expect(missing.code).toBe(2)
    expect(missing.stderr).toMatch(/answered 404/)
  } finally {
    server.close()
  }
  const unreachable = await runCliHere(['watch', `http://127.0.0.1:${port}/bucket/progress.json`])
  expect(unreachable.code).toBe(2)
  expect(unreachable.stderr).toMatch(/cannot reach http:\/\/127\.0\.0\.1:\d+/)

  const guarded = await startDashboard({ root: out, port: 0, token: 'a-long-enough-token' })
  try {
    const base = guarded.url.replace(/\?token=.*$/, '')
    const refused = await runCliHere(['watch', `${base}runs/00000000-0000-4000-8000-000000000000`])
    expect(refused.code).toBe(2)
    expect(refused.stderr).toMatch(/needs the dashboard's token/)
    // On a terminal, watch shows where the run is first: the URL as given, its token left out.
    const { runs } = (await (await fetch(`${base}api/runs?token=a-long-enough-token`)).json()) as {
      runs: { id: string }[]
    }
    const page = `${base}runs/${runs[0]!.id}?token=a-long-enough-token`
    const shown = renderStatus(await fetchRunStatus(page, Date.now()), Date.now())
    expect(shown.split('\n')[0]).toBe(`${base}runs/${runs[0]!.id}`)
    expect(shown).not.toContain('a-long-enough-token')
  } finally {
    await guarded.close()
  }
}, 60_000)

it('run --dashboard serves the runs beside --out while the run lives, and stops with it', async () => {
  const root = tempDir()
  // Items take 15 ms (30 s in all) until the dashboard's index has found the run (it walks the folders every 2 s); then
  // the run ends at full speed.
  const paced = pace(15)
  const run = startCli(
    [
      'run',
      fixture('squares.ts'),
      '--out',
      join(root, 'live'),
      '--total',
      '2000',
      '--workers',
      '1',
      '--dashboard',
      '0',
    ],
    paced.env,
  )
  const url = await new Promise<string>((resolve) => {
    let seen = ''
    run.child.stderr!.on('data', (chunk: Buffer) => {
      seen += chunk.toString()
      const match = /longhaul dashboard for .*: (http:\/\/127\.0\.0\.1:\d+\/)/.exec(seen)
      if (match) resolve(match[1]!)
    })
  })
  const runs = await waitFor('the run to be listed', async () => {
    const listed = ((await (await fetch(`${url}api/runs`)).json()) as { runs: { snapshot: { job: string } }[] }).runs
    return listed.length > 0 ? listed : undefined
  })
  expect(runs.map((r) => r.snapshot.job)).toEqual(['squares'])
  paced.release()
  expect((await run.done).code).toBe(0)
  await expect(fetch(`${url}api/runs`)).rejects.toThrow()
}, 60_000)
