// The dashboard over a root of many runs: how soon the list is there, and what a change costs.
//   scan       what a request cost before the index: every folder of the root walked and every run read
//   ready      the index's first reading of the root (the server's start)
//   apiRuns    GET /api/runs once the index holds the root (median of REPS): time and bytes
//   diff       the bytes of the one /api/live message that tells a change to one run
//   firstPaint Debian's Chromium (when installed) opening the list: navigation to the first frame painted with the
//              table's rows in it (the page's own clock: Element Timing's report of the first row name's painting;
//              median of REPS, a new tab each time, the browser already started)
//   firstByte  navigation to the first byte of the list's HTML (Navigation Timing): the server's part of the paint
//   htmlOnly   the same with the page's scripts and data requests refused: what its HTML alone paints (the first
//              rows are written into it by the server)
//   bareTab    a new tab painting one line of static text from a data: URL: the floor of any first paint here
//   allRows    the same navigation to every row in the table (the rows past the first screenful are added after the
//              first paint); with it, the CPU time that took, of this process (the server) and Chromium's together:
//              the wall time on a busy machine says as much about the neighbours, the CPU time is roughly what an
//              idle machine would take (less, with two cores at work)
//
//   node bench/cases/dashboard.mjs RUNS REPS

import { randomUUID } from 'node:crypto'
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs'
import { join } from 'node:path'
import { register } from 'tsx/esm/api'
import { emit, loadAverage, median, round, say, scratch } from '../lib/report.mjs'

register()
const { startDashboard } = await import('../../src/dashboard/server.ts')
const { findRunDirs, runItem } = await import('../../src/dashboard/runs.ts')

const RUNS = Number(process.argv[2] ?? 500)
const REPS = Number(process.argv[3] ?? 5)
const TARGET_MS = 200
const root = scratch('dashboard')

const at = new Date(Date.now() - 3_600_000).toISOString()
const snapshot = (runId, i, done) => ({
  job: `job-${i % 17}`,
  runId,
  state: i % 10 === 0 ? 'failed' : 'complete',
  done,
  total: 1000,
  percent: done / 10,
  inFlight: 0,
  itemsPerSecond: 10,
  etaSeconds: null,
  etaLow: null,
  etaHigh: null,
  etaUnknownBecause: null,
  startedAt: at,
  updatedAt: at,
  heartbeatAt: at,
  lastCheckpointAt: at,
  checkpoints: 10,
  workers: 1,
  elapsedSeconds: 100,
  stalledForSeconds: null,
  stallAfterSeconds: 300,
  refreshSeconds: 10,
  heartbeatSeconds: 10,
  owner: { pid: 4242, host: 'another-machine' },
  gate: null,
  error: i % 10 === 0 ? 'item 7: boom' : null,
})
const write = (dir, content) => {
  writeFileSync(join(dir, 'progress.json.tmp'), JSON.stringify(content))
  renameSync(join(dir, 'progress.json.tmp'), join(dir, 'progress.json'))
}
const runs = Array.from({ length: RUNS }, (_, i) => {
  const dir = join(root, `group-${i % 20}`, `run-${i}`)
  mkdirSync(dir, { recursive: true })
  const id = randomUUID()
  write(dir, snapshot(id, i, 1000))
  return { id, dir, i }
})
say(`${RUNS} runs written under ${root}`)

/** CPU milliseconds (user + system) used so far by this process and every process under it (Chromium's). */
function treeCpuMs() {
  const procs = new Map()
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8')
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
      procs.set(Number(name), { ppid: Number(fields[1]), ticks: Number(fields[11]) + Number(fields[12]) })
    } catch {
      // gone meanwhile
    }
  }
  const mine = new Set([process.pid])
  for (let grew = true; grew; ) {
    grew = false
    for (const [pid, { ppid }] of procs)
      if (!mine.has(pid) && mine.has(ppid)) {
        mine.add(pid)
        grew = true
      }
  }
  let ticks = 0
  for (const pid of mine) ticks += procs.get(pid)?.ticks ?? 0
  return ticks * 10 // 100 ticks a second (CLK_TCK on Linux)
}

const timed = async (fn) => {
  const began = performance.now()
  const value = await fn()
  return [performance.now() - began, value]
}

const scans = []
for (let r = 0; r < REPS; r++) {
  const [ms] = await timed(async () => {
    for (const dir of findRunDirs(root)) await runItem(root, dir, Date.now())
  })
  scans.push(ms)
}

const [readyMs, dashboard] = await timed(async () => {
  const started = await startDashboard({ root, port: 0 })
  await fetch(`${started.url}api/runs`).then((r) => r.arrayBuffer())
  return started
})
const api = []
let apiBytes = 0
for (let r = 0; r < REPS; r++) {
  const [ms, body] = await timed(() => fetch(`${dashboard.url}api/runs`).then((r) => r.arrayBuffer()))
  api.push(ms)
  apiBytes = body.byteLength
}

// One change to one run, as the one live connection of a browser sees it.
const controller = new AbortController()
const response = await fetch(`${dashboard.url}api/live?list=1`, { signal: controller.signal })
const reader = response.body.getReader()
const decoder = new TextDecoder()
let buffer = ''
const nextMessage = async () => {
  for (;;) {
    const end = buffer.indexOf('\n\n')
    if (end >= 0) {
      const message = buffer.slice(0, end + 2)
      buffer = buffer.slice(end + 2)
      return message
    }
    const { value, done } = await reader.read()
    if (done) throw new Error('the stream ended')
    buffer += decoder.decode(value, { stream: true })
  }
}
await nextMessage() // hello
const changed = runs[RUNS >> 1]
write(changed.dir, { ...snapshot(changed.id, changed.i, 999), updatedAt: new Date().toISOString() })
let diff = ''
while (!diff.includes(changed.id)) diff = await nextMessage()
controller.abort()

let paints = []
let allRows = []
const floors = []
const htmlOnly = []
const firstBytes = []
const BARE_PAGE = '<!doctype html><meta charset="utf-8"><title>longhaul</title><p elementtiming="run">longhaul</p>'
const allRowsCpu = []
const chromium = '/usr/bin/chromium'
if (existsSync(chromium)) {
  const { chromium: launcher } = await import('playwright-core')
  const profile = mkdtempSync(join(root, 'chromium-'))
  const context = await launcher.launchPersistentContext(profile, {
    executablePath: chromium,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-sync'],
  })
  // The moment the first rows are painted, on the page's clock (from its navigation): each row's job name is marked
  // for Element Timing (runRow.js), and the browser reports when the first was painted.
  await context.addInitScript(() => {
    new PerformanceObserver((list) => {
      for (const entry of list.getEntries())
        if (entry.identifier === 'run') window.__firstRowsPaintedAt ??= entry.renderTime || entry.loadTime
    }).observe({ type: 'element', buffered: true })
  })
  try {
    for (let r = 0; r < REPS + 1; r++) {
      const page = await context.newPage()
      const cpuBefore = treeCpuMs()
      const began = performance.now()
      await page.goto(dashboard.url)
      await page.waitForFunction((n) => document.querySelectorAll('tbody tr[data-run]').length === n, RUNS, {
        polling: 'raf',
      })
      // The first opening also loads the page's modules into the cache: not counted.
      if (r > 0) {
        allRows.push(performance.now() - began)
        allRowsCpu.push(treeCpuMs() - cpuBefore)
        // Element Timing's report arrives when the browser is idle: asked for after every row is in.
        paints.push(await page.waitForFunction(() => window.__firstRowsPaintedAt).then((value) => value.jsonValue()))
        firstBytes.push(await page.evaluate(() => performance.getEntriesByType('navigation')[0].responseStart))
      }
      await page.close()
      // The floor: a new tab painting one line of static text, no server, no script: what opening any page costs here.
      if (r > 0) {
        const bare = await context.newPage()
        await bare.goto(`data:text/html,${encodeURIComponent(BARE_PAGE)}`)
        floors.push(await bare.waitForFunction(() => window.__firstRowsPaintedAt).then((value) => value.jsonValue()))
        await bare.close()
        const plain = await context.newPage()
        await plain.route(/\/static\/.*\.js$|\/api\//, (route) => route.abort())
        await plain.goto(dashboard.url)
        htmlOnly.push(await plain.waitForFunction(() => window.__firstRowsPaintedAt).then((value) => value.jsonValue()))
        await plain.close()
      }
    }
  } finally {
    await context.close()
  }
} else {
  say(`no ${chromium}: first paint not measured`)
  paints = []
  allRows = []
}
await dashboard.close()
rmSync(root, { recursive: true, force: true })

const apiRunsMs = round(median(api), 1)
const firstPaintMs = paints.length ? round(median(paints), 1) : null
emit('dashboard', {
  runs: RUNS,
  scanMs: round(median(scans), 1),
  readyMs: round(readyMs, 1),
  apiRunsMs,
  apiRunsKiB: round(apiBytes / 1024, 1),
  diffBytes: Buffer.byteLength(diff),
  firstPaintMs,
  firstPaintsMs: paints.map((ms) => round(ms, 1)),
  // Navigation to the first byte of the list's HTML (Navigation Timing's responseStart): the server's share.
  firstByteMs: firstBytes.length ? round(median(firstBytes), 1) : null,
  // A new tab painting one line of static text (a data: URL): the floor of any first paint on this machine.
  // The list with no script run and no data fetched: what its HTML alone paints.
  htmlOnlyPaintMs: htmlOnly.length ? round(median(htmlOnly), 1) : null,
  htmlOnlyPaintsMs: htmlOnly.map((ms) => round(ms, 1)),
  bareTabPaintMs: floors.length ? round(median(floors), 1) : null,
  bareTabPaintsMs: floors.map((ms) => round(ms, 1)),
  allRowsMs: allRows.length ? round(median(allRows), 1) : null,
  allRowsAllMs: allRows.map((ms) => round(ms, 1)),
  allRowsCpuMs: allRowsCpu.length ? median(allRowsCpu) : null,
  loadAverage: loadAverage(),
  target: `apiRunsMs < ${TARGET_MS}, firstPaintMs < ${TARGET_MS}, diffBytes < 10240`,
  pass: apiRunsMs < TARGET_MS && (firstPaintMs === null || firstPaintMs < TARGET_MS) && Buffer.byteLength(diff) < 10240,
})
