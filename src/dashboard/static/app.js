// The dashboard page: `/` lists every run under the served folder, `/runs/<id>`
// follows one run live. Plain DOM, no build step. Every value from the API is
// written with textContent or setAttribute, never parsed as HTML.

const LIST_REFRESH_MS = 2_000
/** A run's history (commits, events, proofs) is fetched again at most this often while it moves. */
const HISTORY_REFRESH_MS = 2_000
/** The server keeps a run's newest 2,000 commits. */
const MAX_CHECKPOINTS = 2_000
/** The server re-sends a live run's status every few seconds; silence past this is worth saying. */
const SILENT_AFTER_MS = 15_000
/** Commits drawn on the checkpoint timeline and listed under it. */
const TIMELINE_COMMITS = 400
const LISTED_COMMITS = 5

const main = document.getElementById('main')
const connection = document.getElementById('connection')

// ---- numbers and times, formatted as the CLI formats them ----

const count = (n) => Number(n ?? 0).toLocaleString('en-US')
const rate = (perSecond) =>
  perSecond === null || perSecond === undefined
    ? 'unknown'
    : perSecond >= 100
      ? count(Math.round(perSecond))
      : perSecond.toFixed(1)
const percentOf = (done, total) => (total > 0 ? (100 * done) / total : 0)
/** A supervised program may not say how much there is (total null), and may count in its own unit. */
const unitOf = (s) => s.unit ?? 'items'

/** 42s, 3m07s, 2h05m, 3d04h. */
function duration(seconds) {
  const s = Math.max(0, Math.round(seconds))
  if (s < 60) return `${s}s`
  const m = Math.floor(s / 60)
  if (m < 60) return `${m}m${String(s % 60).padStart(2, '0')}s`
  const h = Math.floor(m / 60)
  if (h < 48) return `${h}h${String(m % 60).padStart(2, '0')}m`
  return `${Math.floor(h / 24)}d${String(h % 24).padStart(2, '0')}h`
}

/** 1.2k, 3.4M: for chart axes, where room is short. */
function compact(n) {
  const abs = Math.abs(n)
  if (abs >= 1e9) return `${+(n / 1e9).toFixed(1)}G`
  if (abs >= 1e6) return `${+(n / 1e6).toFixed(1)}M`
  if (abs >= 1e4) return `${+(n / 1e3).toFixed(1)}k`
  return count(Math.round(n * 10) / 10)
}

/** A moment in the browser's local time; with the date when it is not today. */
function clockTime(ms) {
  const date = new Date(ms)
  const time = date.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit' })
  return date.toDateString() === new Date().toDateString() ? time : `${date.toLocaleDateString()} ${time}`
}

/**
 * The server's clock, as best this page knows it. Ages ("12s ago") are
 * measured on the server's clock, since the browser (a laptop) and the run
 * (a VM) often disagree by seconds or more. Every status carries the
 * heartbeat's time and its age as the server measured it: their sum is the
 * server's "now" when it answered.
 */
let clockOffsetMs = 0
function learnServerClock(run) {
  const heartbeat = Date.parse(run.snapshot.heartbeatAt)
  // A status read from the journal alone (no progress.json) carries no heartbeat age.
  if (run.snapshot.owner?.pid && Number.isFinite(heartbeat))
    clockOffsetMs = heartbeat + run.heartbeatAgeSeconds * 1000 - Date.now()
}
const serverNow = () => Date.now() + clockOffsetMs
const secondsSince = (iso) => (serverNow() - Date.parse(iso)) / 1000

// ---- what a run's fields mean, in words ----

/** The state as a word (never a colour alone) and the key its colour hangs on. */
function stateOf(run) {
  if (run.ownerGone) return { word: 'NOT RUNNING', key: 'gone' }
  return { word: run.snapshot.state.toUpperCase(), key: run.snapshot.state }
}

function etaText(s) {
  if (s.state === 'complete') return 'done'
  if (s.state !== 'running' && s.state !== 'stalled') return '—'
  if (s.etaSeconds === null) return `unknown (${s.etaUnknownBecause ?? 'not enough data yet'})`
  const range = s.etaLow !== null && s.etaHigh !== null ? ` (${duration(s.etaLow)} – ${duration(s.etaHigh)})` : ''
  return `${duration(s.etaSeconds)}${range}`
}

const baseName = (path) => String(path).split(/[\\/]/).pop()

/** The launch gate's decision: a short badge and the full sentence. A waiver is spelled out. */
function gateOf(gate) {
  if (!gate) return null
  switch (gate.status) {
    case 'proved':
      return {
        badge: 'PROVED',
        key: 'proved',
        text: `proved by ${baseName(gate.proof)} (target ${count(gate.target)}, valid until ${gate.expiresAt.slice(0, 10)})`,
      }
    case 'waived':
      return {
        badge: 'WAIVED',
        key: 'waived',
        text: `WAIVED — running without a passing preflight proof (${gate.reason})`,
      }
    case 'not-required':
      return {
        badge: 'NO PROOF NEEDED',
        key: 'not-required',
        text: `no proof needed (at most ${count(gate.limit)} items)`,
      }
    default:
      return { badge: String(gate.status).toUpperCase(), key: 'other', text: String(gate.status) }
  }
}

/** An event's detail in one line: `committed 0 · total 3,000 · workers 1`. */
function describe(detail) {
  return Object.entries(detail ?? {})
    .map(([key, value]) => {
      if (typeof value === 'number' && /Seconds$/.test(key)) return `${key} ${duration(value)}`
      if (typeof value === 'number' && !/pid|seed|port/i.test(key)) return `${key} ${count(value)}`
      if (value !== null && typeof value === 'object') return `${key} ${JSON.stringify(value)}`
      return `${key} ${value}`
    })
    .join(' · ')
}

// ---- a small DOM kit ----

/** An element with attributes and children; strings become text nodes, nulls are skipped. */
function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag)
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue
    if (key === 'class') node.className = value
    else if (key === 'style')
      node.style.cssText = value // through the CSSOM, which a strict style-src allows
    else node.setAttribute(key, value === true ? '' : String(value))
  }
  node.append(
    ...children
      .flat()
      .filter((c) => c !== null && c !== undefined && c !== false)
      .map((c) => (c instanceof Node ? c : String(c))),
  )
  return node
}
/** Sets text only when it changed, so a live page does not churn its layout every second. */
function setText(node, text) {
  if (node.textContent !== text) node.textContent = text
}
function setAttr(node, name, value) {
  if (node.getAttribute(name) !== value) node.setAttribute(name, value)
}

async function getJson(url) {
  const response = await fetch(url, { credentials: 'same-origin', headers: { Accept: 'application/json' } })
  if (!response.ok) throw new Error(`${url} answered HTTP ${response.status}`)
  return response.json()
}

const runHref = (id) => `/runs/${encodeURIComponent(id)}`

/** The connection note in the page header. */
function showConnection(status, text) {
  setAttr(connection, 'data-status', status)
  setText(connection, text)
}

// ---- one run's card: name, state, bar and facts; the list's item and the run page's header ----

const FACTS = [
  ['rate', 'Rate'],
  ['eta', 'ETA'],
  ['elapsed', 'Elapsed'],
  ['checkpoint', 'Last checkpoint'],
  ['heartbeat', 'Heartbeat'],
  ['workers', 'Workers'],
  ['gate', 'Launch gate'],
  ['error', 'Error'],
]

class RunCard {
  constructor(run, { linked }) {
    this.name = linked ? el('a', { href: runHref(run.id) }) : el('span')
    this.state = el('span', { class: 'state' })
    this.badge = el('span', { class: 'badge' })
    this.dir = el('span', { class: 'dir' })
    this.summary = el('p', { class: 'summary' })
    this.fill = el('div', { class: 'fill' })
    this.bar = el('div', { class: 'bar', role: 'progressbar', 'aria-valuemin': 0 }, this.fill)
    this.counts = el('span', { class: 'counts' })
    this.inFlight = el('span', { class: 'in-flight muted' })
    this.percent = el('span', { class: 'percent' })
    this.facts = {}
    const rows = FACTS.map(([key, label]) => {
      this.facts[key] = el('dd')
      return el('div', { 'data-fact': key }, el('dt', {}, label), this.facts[key])
    })
    this.root = el(
      'article',
      { class: 'card run', 'data-run': run.id },
      el('div', { class: 'title' }, el(linked ? 'h2' : 'h1', {}, this.name), this.state, this.badge),
      this.dir,
      this.summary,
      el('div', { class: 'progress' }, el('span', {}, this.counts, this.inFlight), this.percent),
      this.bar,
      el('dl', { class: 'facts' }, rows),
    )
    this.update(run)
  }

  update(run) {
    this.run = run
    this.render()
  }

  /** Writes every field; called on each update and every second, for the ages. */
  render() {
    const run = this.run
    const s = run.snapshot
    const state = stateOf(run)
    const gate = gateOf(s.gate)
    const percent = percentOf(s.done, s.total)

    setText(this.name, s.job)
    setText(this.state, state.word)
    setAttr(this.state, 'data-state', state.word)
    setAttr(this.root, 'data-state', state.key)
    setText(this.dir, run.dir)
    this.badge.hidden = !gate
    if (gate) {
      setText(this.badge, gate.badge)
      setAttr(this.badge, 'data-gate', gate.key)
    }
    // The summary says more than the word only when the run is stalled or gone, or a shared run's owner is gone.
    const explain = run.ownerGone || s.state === 'stalled' || run.shared?.ownerAlive === false
    this.summary.hidden = !explain
    if (explain) setText(this.summary, run.summary)

    const known = s.total !== null && s.total !== undefined
    setText(
      this.counts,
      known
        ? `${count(s.done)} / ${count(s.total)}${s.unit ? ` ${s.unit}` : ''}`
        : `${count(s.done)} ${unitOf(s)}, total unknown`,
    )
    setText(this.inFlight, s.inFlight > 0 ? ` +${count(s.inFlight)} finished, not yet committed` : '')
    setText(this.percent, known ? `${percent.toFixed(1)}%` : '')
    setAttr(this.bar, 'aria-valuemax', known ? String(s.total) : '')
    setAttr(this.bar, 'aria-valuenow', String(s.done))
    setAttr(
      this.bar,
      'aria-valuetext',
      known
        ? `${count(s.done)} of ${count(s.total)} ${unitOf(s)} (${percent.toFixed(1)}%)`
        : `${count(s.done)} ${unitOf(s)}, total unknown`,
    )
    setAttr(this.bar, 'aria-label', `${s.job} progress`)
    this.fill.style.width = `${Math.min(100, percent).toFixed(2)}%`

    const live = run.live
    const elapsed = live ? s.elapsedSeconds + Math.max(0, secondsSince(s.updatedAt)) : s.elapsedSeconds
    this.fact('rate', `${rate(s.itemsPerSecond)}${s.itemsPerSecond === null ? '' : ` ${unitOf(s)}/s`}`)
    this.fact('eta', etaText(s))
    this.fact('elapsed', duration(elapsed))
    this.fact('checkpoint', s.lastCheckpointAt ? `${duration(secondsSince(s.lastCheckpointAt))} ago` : 'none yet')
    this.fact('heartbeat', s.owner?.pid ? `${duration(secondsSince(s.heartbeatAt))} ago` : 'unknown (no progress.json)')
    this.fact('workers', s.owner?.pid ? `${count(s.workers)} (pid ${s.owner.pid} on ${s.owner.host})` : null)
    this.fact('gate', gate ? gate.text : null)
    this.fact('error', s.error)
  }

  fact(key, text) {
    const dd = this.facts[key]
    dd.parentElement.hidden = text === null || text === undefined
    if (text !== null && text !== undefined) setText(dd, text)
  }
}

// ---- the list of runs ----

/** Live runs first (by folder, so they hold still), then the rest, most recently updated first. */
function byInterest(a, b) {
  const liveA = a.live || a.ownerGone ? 0 : 1
  const liveB = b.live || b.ownerGone ? 0 : 1
  if (liveA !== liveB) return liveA - liveB
  if (liveA === 0) return a.dir.localeCompare(b.dir)
  return b.snapshot.updatedAt.localeCompare(a.snapshot.updatedAt)
}

function listPage() {
  document.title = 'Runs — longhaul'
  const cards = new Map()
  const overview = el('p', { class: 'overview muted' })
  const list = el('div', { class: 'runs' })
  const empty = el(
    'p',
    { class: 'card muted', hidden: true },
    'No runs under this folder yet. A run started with ',
    el('code', {}, 'longhaul run JOB --out DIR'),
    ' inside it shows here.',
  )
  main.replaceChildren(el('div', { class: 'heading' }, el('h1', {}, 'Runs'), overview), empty, list)

  const refresh = async () => {
    try {
      const { runs } = await getJson('/api/runs')
      runs.forEach(learnServerClock)
      const seen = new Set()
      ;[...runs].sort(byInterest).forEach((run, i) => {
        seen.add(run.id)
        let card = cards.get(run.id)
        if (card) card.update(run)
        else cards.set(run.id, (card = new RunCard(run, { linked: true })))
        // Moved only when out of place: a moved card would lose its bar's animation.
        if (list.children[i] !== card.root) list.insertBefore(card.root, list.children[i] ?? null)
      })
      for (const [id, card] of cards) {
        if (seen.has(id)) continue
        card.root.remove()
        cards.delete(id)
      }
      empty.hidden = runs.length > 0
      const byState = new Map()
      for (const run of runs)
        byState.set(stateOf(run).word.toLowerCase(), (byState.get(stateOf(run).word.toLowerCase()) ?? 0) + 1)
      setText(
        overview,
        `${count(runs.length)} run${runs.length === 1 ? '' : 's'}${byState.size ? ' — ' : ''}${[...byState].map(([word, n]) => `${n} ${word}`).join(', ')}`,
      )
      main.setAttribute('aria-busy', 'false')
      showConnection('live', `updated ${clockTime(Date.now())}`)
    } catch (error) {
      showConnection('offline', `cannot reach the server (${error.message}); retrying`)
    } finally {
      setTimeout(refresh, LIST_REFRESH_MS)
    }
  }
  refresh()
  setInterval(() => cards.forEach((card) => card.render()), 1_000)
}

// ---- one run, live ----

async function runPage(id) {
  let detail
  try {
    detail = await getJson(`/api/runs/${encodeURIComponent(id)}`)
  } catch (error) {
    main.replaceChildren(
      el('p', { class: 'card' }, `This run cannot be shown: ${error.message}. `, el('a', { href: '/' }, 'All runs')),
    )
    main.setAttribute('aria-busy', 'false')
    return
  }
  learnServerClock(detail)
  const card = new RunCard(detail, { linked: false })
  const chart = new ThroughputChart()
  const timeline = el('section', { class: 'card', 'aria-labelledby': 'commits-title' })
  const events = el('section', { class: 'card', 'aria-labelledby': 'events-title' })
  const preflight = el('section', { class: 'card', 'aria-labelledby': 'preflight-title' })
  main.replaceChildren(
    el('nav', { class: 'back' }, el('a', { href: '/' }, '← All runs')),
    card.root,
    chart.root,
    timeline,
    events,
    preflight,
  )
  main.setAttribute('aria-busy', 'false')
  chart.mount()

  let shownProofs = ''
  const showHistory = (d) => {
    chart.reset(commitPoints(d), d.snapshot.total)
    renderTimeline(timeline, d.checkpoints)
    renderEvents(events, d.events)
    // Redrawn only when it changed, so an opened report stays open.
    const proofs = JSON.stringify([d.proofs, d.report])
    if (proofs !== shownProofs) renderPreflight(preflight, d.proofs, d.report)
    shownProofs = proofs
  }
  const showTitle = (run) => {
    const state = stateOf(run)
    document.title = `${state.key === 'running' ? `${percentOf(run.snapshot.done, run.snapshot.total).toFixed(0)}%` : state.word} ${run.snapshot.job} — longhaul`
  }
  showHistory(detail)
  showTitle(detail)

  // History is re-read when the state changes at once, and while commits land at most every few seconds.
  let current = detail
  let fetchedAt = Date.now()
  let pending = null
  const refreshHistory = async () => {
    pending = null
    fetchedAt = Date.now()
    const fresh = await getJson(`/api/runs/${encodeURIComponent(id)}`).catch(() => undefined)
    if (fresh) showHistory(fresh)
  }
  const scheduleHistory = (now) => {
    if (now) {
      clearTimeout(pending)
      refreshHistory()
    } else if (!pending) {
      pending = setTimeout(refreshHistory, Math.max(0, fetchedAt + HISTORY_REFRESH_MS - Date.now()))
    }
  }

  let lastMessageAt = Date.now()
  follow(id, (run) => {
    lastMessageAt = Date.now()
    learnServerClock(run)
    const changed =
      stateOf(run).word !== stateOf(current).word ||
      run.snapshot.total !== current.snapshot.total ||
      run.snapshot.runId !== current.snapshot.runId
    const moved = run.snapshot.done !== current.snapshot.done
    current = run
    card.update(run)
    showTitle(run)
    if (moved && run.snapshot.lastCheckpointAt)
      chart.add(Date.parse(run.snapshot.lastCheckpointAt), run.snapshot.done, run.snapshot.total)
    if (changed || moved) scheduleHistory(changed)
  })
  setInterval(() => {
    card.render()
    const silent = Date.now() - lastMessageAt
    if (current.live && silent > SILENT_AFTER_MS)
      showConnection('offline', `no update from the server for ${duration(silent / 1000)}`)
  }, 1_000)
}

/** Follows a run's status over server-sent events; EventSource reconnects by itself, and this reopens it when the server refused. */
function follow(id, onStatus) {
  const open = () => {
    const source = new EventSource(`/api/runs/${encodeURIComponent(id)}/events`)
    source.addEventListener('status', (message) => {
      showConnection('live', `live · updated ${clockTime(Date.now())}`)
      onStatus(JSON.parse(message.data))
    })
    source.addEventListener('error', () => {
      if (source.readyState === EventSource.CLOSED) {
        showConnection('offline', 'live updates refused by the server; retrying in 5s')
        setTimeout(open, 5_000)
      } else {
        showConnection('offline', 'connection lost; reconnecting…')
      }
    })
  }
  open()
}

// ---- items per second over time ----

/**
 * Items committed over time, from the commits: one point per commit, with
 * the running total of items. The server keeps the newest commits only; the
 * running total then starts from what the older ones had committed.
 */
function commitPoints(d) {
  const commits = d.checkpoints
  if (!commits.length) return []
  const sum = commits.reduce((n, c) => n + (c.end - c.start), 0)
  let committed = commits.length >= MAX_CHECKPOINTS ? Math.max(0, d.snapshot.done - sum) : 0
  const points = []
  const started = d.events.find((e) => e.type === 'started')
  if (committed === 0 && started && started.at <= commits[0].at) points.push({ t: started.at, committed: 0 })
  for (const c of commits) {
    committed += c.end - c.start
    points.push({ t: c.at, committed })
  }
  return points
}

/**
 * The chart's columns: time (s), items/s over each interval, items committed.
 * Commits closer together than a slice of the whole span are merged, so a
 * burst of small commits does not draw a comb.
 */
function chartColumns(points) {
  const xs = []
  const rates = []
  const committed = []
  if (!points.length) return [xs, rates, committed]
  const minGapMs = Math.max(250, (points.at(-1).t - points[0].t) / 150)
  const anchors = [points[0]]
  xs.push(points[0].t / 1000)
  rates.push(null)
  committed.push(points[0].committed)
  const push = (p, from) => {
    anchors.push(p)
    xs.push(p.t / 1000)
    rates.push((p.committed - from.committed) / ((p.t - from.t) / 1000))
    committed.push(p.committed)
  }
  for (let i = 1; i < points.length; i++) {
    const p = points[i]
    const from = anchors.at(-1)
    if (p.t - from.t >= minGapMs) push(p, from)
    else if (i === points.length - 1 && p.t > from.t) {
      // The newest commit is always drawn: it joins the interval before it.
      if (anchors.length > 1) {
        anchors.pop()
        xs.pop()
        rates.pop()
        committed.pop()
      }
      push(p, anchors.at(-1))
    }
  }
  return [xs, rates, committed]
}

const cssVar = (name) => getComputedStyle(document.documentElement).getPropertyValue(name).trim()

class ThroughputChart {
  constructor() {
    this.points = []
    this.total = 1
    this.plot = el('div', { class: 'chart' })
    this.note = el('p', { class: 'muted' })
    this.root = el(
      'section',
      { class: 'card', 'aria-labelledby': 'chart-title' },
      el('h2', { id: 'chart-title' }, 'Items per second'),
      el(
        'p',
        { class: 'hint muted' },
        'Per interval between commits; the dashed line is items committed (right axis).',
      ),
      this.note,
      this.plot,
    )
  }

  /** Creates the uPlot chart once the section is on the page (it needs a width), and again when the system's light or dark theme changes. */
  mount() {
    if (typeof uPlot !== 'function') {
      setText(this.note, 'The chart library did not load; the numbers above are live regardless.')
      return
    }
    this.create()
    new ResizeObserver(() => this.chart.setSize({ width: this.width(), height: 240 })).observe(this.root)
    matchMedia('(prefers-color-scheme: dark)').addEventListener('change', () => {
      this.chart.destroy()
      this.create()
    })
  }

  create() {
    const text = cssVar('--muted')
    const grid = cssVar('--line')
    const axis = (extra) => ({
      stroke: text,
      grid: { stroke: grid, width: 1 },
      ticks: { stroke: grid, width: 1 },
      font: '12px system-ui, sans-serif',
      ...extra,
    })
    this.chart = new uPlot(
      {
        width: this.width(),
        height: 240,
        cursor: { drag: { x: true, y: false } },
        scales: {
          x: { time: true },
          rate: { range: (_u, _min, max) => [0, max > 0 ? max * 1.15 : 1] },
          items: { range: () => [0, Math.max(1, this.total)] },
        },
        series: [
          { value: (_u, v) => (v === null ? '—' : clockTime(v * 1000)) },
          {
            label: 'items/s',
            scale: 'rate',
            stroke: cssVar('--running'),
            fill: cssVar('--running-fill'),
            width: 2,
            value: (_u, v) => (v === null ? '—' : rate(v)),
          },
          {
            label: 'committed',
            scale: 'items',
            stroke: text,
            width: 1.5,
            dash: [5, 5],
            value: (_u, v) => (v === null ? '—' : count(v)),
          },
        ],
        axes: [
          axis({}),
          axis({ scale: 'rate', size: 56, values: (_u, splits) => splits.map(compact) }),
          axis({
            scale: 'items',
            side: 1,
            size: 56,
            grid: { show: false },
            values: (_u, splits) => splits.map(compact),
          }),
        ],
      },
      chartColumns(this.points),
      this.plot,
    )
    this.draw()
  }

  width() {
    return Math.max(240, this.plot.clientWidth || this.root.clientWidth - 36)
  }

  reset(points, total) {
    this.points = points
    this.total = total
    this.draw()
  }

  /** A live commit: the run's committed count at the time of its newest commit. */
  add(t, committed, total) {
    const last = this.points.at(-1)
    this.total = total
    if (last && (t <= last.t || committed <= last.committed)) return
    this.points.push({ t, committed })
    this.draw()
  }

  draw() {
    const enough = this.points.length >= 2
    this.note.hidden = enough || !this.chart
    this.plot.hidden = !enough
    if (!enough) setText(this.note, 'The chart starts after the second commit.')
    this.chart?.setData(chartColumns(this.points))
  }
}

// ---- commits, events, preflight ----

const itemRange = (c) => (c.end - c.start === 1 ? count(c.start) : `${count(c.start)}–${count(c.end - 1)}`)

function renderTimeline(section, commits) {
  const shown = commits.slice(-TIMELINE_COMMITS)
  const children = [el('h2', { id: 'commits-title' }, 'Checkpoints')]
  if (!shown.length) {
    section.replaceChildren(...children, el('p', { class: 'muted' }, 'No commits yet.'))
    return
  }
  const first = shown[0].at
  const last = shown.at(-1).at
  const span = Math.max(1, last - first)
  const largest = Math.max(1, ...shown.map((c) => c.end - c.start))
  const gaps = shown
    .slice(1)
    .map((c, i) => c.at - shown[i].at)
    .sort((a, b) => a - b)
  const typical = gaps.length ? gaps[Math.floor(gaps.length / 2)] / 1000 : null
  children.push(
    el(
      'p',
      { class: 'muted' },
      `${count(commits.length)} commit${commits.length === 1 ? '' : 's'}${commits.length > shown.length ? ` (the newest ${count(shown.length)} drawn)` : ''}`,
      typical === null
        ? ''
        : ` · typically ${typical < 1 ? `${Math.round(typical * 1000)} ms` : typical < 10 ? `${typical.toFixed(1)}s` : duration(typical)} apart`,
    ),
    el(
      'div',
      { class: 'timeline', role: 'img', 'aria-label': `commits from ${clockTime(first)} to ${clockTime(last)}` },
      shown.map((c) =>
        el('span', {
          style: `left:${((100 * (c.at - first)) / span).toFixed(2)}%;height:${Math.max(15, (100 * (c.end - c.start)) / largest).toFixed(0)}%`,
          title: `items ${itemRange(c)} at ${clockTime(c.at)}`,
        }),
      ),
    ),
    el('div', { class: 'axis muted' }, el('span', {}, clockTime(first)), el('span', {}, clockTime(last))),
    el(
      'table',
      { class: 'commits' },
      el('thead', {}, el('tr', {}, el('th', {}, 'At'), el('th', {}, 'Items'), el('th', { class: 'num' }, 'Count'))),
      el(
        'tbody',
        {},
        shown
          .slice(-LISTED_COMMITS)
          .reverse()
          .map((c) =>
            el(
              'tr',
              {},
              el('td', { class: 'num' }, clockTime(c.at)),
              el('td', { class: 'num' }, itemRange(c)),
              el('td', { class: 'num' }, count(c.end - c.start)),
            ),
          ),
      ),
    ),
  )
  section.replaceChildren(...children)
}

/** Events that call for attention get the warning colour; the word is always there. */
const EVENT_TONE = {
  stalled: 'warn',
  interrupted: 'warn',
  recomputing: 'warn',
  'gate-waived': 'warn',
  failed: 'bad',
  complete: 'good',
  recovered: 'good',
  'gate-proved': 'good',
}

function renderEvents(section, events) {
  section.replaceChildren(
    el('h2', { id: 'events-title' }, 'Events'),
    events.length
      ? el(
          'table',
          { class: 'events' },
          el('thead', {}, el('tr', {}, el('th', {}, 'At'), el('th', {}, 'Event'), el('th', {}, 'Detail'))),
          el(
            'tbody',
            {},
            [...events]
              .reverse()
              .map((e) =>
                el(
                  'tr',
                  {},
                  el('td', { class: 'num nowrap' }, clockTime(e.at)),
                  el('td', {}, el('span', { class: `event ${EVENT_TONE[e.type] ?? ''}` }, e.type)),
                  el('td', { class: 'muted detail' }, describe(e.detail)),
                ),
              ),
          ),
        )
      : el('p', { class: 'muted' }, 'No events yet.'),
  )
}

function renderPreflight(section, proofs, report) {
  const children = [el('h2', { id: 'preflight-title' }, 'Preflight')]
  const latest = proofs[0]
  if (!latest) {
    children.push(el('p', { class: 'muted' }, 'No preflight proof for this job in this run folder.'))
  } else {
    const expired = Date.parse(latest.expiresAt) < serverNow()
    const validation = latest.checks.find((c) => c.id === 'validation')
    const otherFailures = latest.checks.filter((c) => c.id !== 'validation' && !c.passed)
    children.push(
      el(
        'p',
        {},
        el('span', { class: `verdict ${latest.verdict === 'PASSED' ? 'good' : 'bad'}` }, latest.verdict),
        ` for ${count(latest.target)} items · ${expired ? 'expired' : 'valid until'} ${latest.expiresAt.slice(0, 10)}`,
        proofs.length > 1 ? ` · ${proofs.length - 1} older proof${proofs.length > 2 ? 's' : ''}` : '',
      ),
      el('p', { class: 'muted file' }, latest.file),
      validation?.failures.length
        ? el(
            'div',
            { class: 'failures' },
            el('h3', {}, 'Validation failures'),
            el(
              'ul',
              {},
              validation.failures.map((f) => el('li', {}, f)),
            ),
          )
        : null,
      otherFailures.length
        ? el(
            'div',
            { class: 'failures' },
            el('h3', {}, 'Other failed checks'),
            el(
              'ul',
              {},
              otherFailures.flatMap((c) =>
                (c.failures.length ? c.failures : [`${c.title}: ${c.evidence}`]).map((f) => el('li', {}, f)),
              ),
            ),
          )
        : null,
      el(
        'ul',
        { class: 'checks' },
        latest.checks.map((c) =>
          el(
            'li',
            {},
            el('span', { class: `verdict ${c.passed ? 'good' : 'bad'}` }, c.passed ? 'PASS' : 'FAIL'),
            ' ',
            el('strong', {}, c.title),
            el('span', { class: 'muted' }, ` — ${c.evidence}`),
          ),
        ),
      ),
    )
  }
  if (report !== null && report !== undefined) {
    // The report is markdown shown as text: never rendered as HTML.
    children.push(
      el(
        'details',
        { open: latest?.verdict === 'FAILED' },
        el('summary', {}, 'PREFLIGHT.md'),
        el('pre', { class: 'report' }, report),
      ),
    )
  }
  section.replaceChildren(...children.filter((c) => c !== null))
}

// ---- routing ----

const route = /^\/runs\/([^/]+)\/?$/.exec(location.pathname)
if (route) runPage(decodeURIComponent(route[1]))
else listPage()
