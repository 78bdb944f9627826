// The dashboard page: `/` lists every run, `/runs/<id>` follows one live.
// Every value from the API is written with textContent, never as HTML.

const main = document.getElementById('main')
const liveNote = document.getElementById('live')

// ---- formatting, as the CLI does ----
const count = (n) => (n ?? 0).toLocaleString('en-US')
const rate = (r) => (r === null || r === undefined ? 'unknown' : r >= 100 ? count(Math.round(r)) : r.toFixed(1))
function duration(seconds) {
  const s = Math.max(0, Math.round(seconds))
  if (s < 60) return `${s}s`
  const m = Math.floor(s / 60)
  if (m < 60) return `${m}m${String(s % 60).padStart(2, '0')}s`
  const h = Math.floor(m / 60)
  if (h < 48) return `${h}h${String(m % 60).padStart(2, '0')}m`
  return `${Math.floor(h / 24)}d${String(h % 24).padStart(2, '0')}h`
}
const ago = (iso) => (iso ? `${duration((Date.now() - Date.parse(iso)) / 1000)} ago` : 'none yet')

function stateOf(run) {
  if (run.ownerGone) return { word: 'NOT RUNNING', cls: 'gone' }
  return { word: run.snapshot.state.toUpperCase(), cls: run.snapshot.state }
}
function etaText(s) {
  if (s.state === 'complete') return 'done'
  if (s.state !== 'running' && s.state !== 'stalled') return '—'
  if (s.etaSeconds === null) return `unknown (${s.etaUnknownBecause ?? 'not enough data yet'})`
  const range = s.etaLow !== null && s.etaHigh !== null ? ` (${duration(s.etaLow)} – ${duration(s.etaHigh)})` : ''
  return `${duration(s.etaSeconds)}${range}`
}
function gateText(gate) {
  if (!gate) return null
  if (gate.status === 'proved') return { text: `proved (target ${count(gate.target)}, until ${gate.expiresAt.slice(0, 10)})`, cls: '' }
  if (gate.status === 'waived') return { text: 'WAIVED: no passing proof', cls: 'waived' }
  return { text: `no proof needed (≤ ${count(gate.limit)} items)`, cls: '' }
}

// ---- tiny DOM helper ----
function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag)
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null) continue
    if (key === 'class') node.className = value
    else node.setAttribute(key, String(value))
  }
  for (const child of children.flat()) if (child !== null && child !== undefined) node.append(child instanceof Node ? child : String(child))
  return node
}

/** The header of a run: name, state word and colour, bar, and the facts. Used by both pages. */
function runCard(run, linked) {
  const s = run.snapshot
  const state = stateOf(run)
  const gate = gateText(s.gate)
  const percent = s.total > 0 ? (100 * s.done) / s.total : 0
  const title = linked ? el('a', { href: `/runs/${encodeURIComponent(run.id)}` }, s.job) : s.job
  return el('section', { class: 'card', 'data-run': run.id },
    el('div', { class: 'row' },
      el('h2', {}, title),
      el('span', { class: `state ${state.cls}`, 'data-state': state.word }, state.word),
      gate && el('span', { class: `badge ${gate.cls}` }, gate.text),
      el('span', { class: 'muted' }, run.dir),
    ),
    run.ownerGone || s.state === 'stalled' ? el('div', { class: 'muted' }, run.summary) : null,
    el('div', { class: `bar ${state.cls}`, role: 'progressbar', 'aria-valuemin': 0, 'aria-valuemax': s.total, 'aria-valuenow': s.done, 'aria-label': `${s.job} progress` },
      el('div', { style: `width:${percent.toFixed(2)}%` })),
    el('dl', { class: 'facts' },
      fact('Done', `${count(s.done)} / ${count(s.total)} (${percent.toFixed(1)}%)`),
      fact('Rate', `${rate(s.itemsPerSecond)} items/s`),
      fact('ETA', etaText(s)),
      fact('Elapsed', duration(s.elapsedSeconds)),
      fact('Last checkpoint', ago(s.lastCheckpointAt)),
      fact('Heartbeat', `${duration(run.heartbeatAgeSeconds)} ago`),
      fact('Workers', `${s.workers} (pid ${s.owner.pid} on ${s.owner.host})`),
      s.error ? fact('Error', s.error) : null,
    ),
  )
}
/** Replaces a node's children, leaving out the nulls of optional parts. */
const fill = (node, ...children) => node.replaceChildren(...children.flat().filter((c) => c !== null && c !== undefined))
const fact = (name, value) => el('div', {}, el('dt', {}, name), el('dd', {}, value))

async function getJson(url) {
  const response = await fetch(url, { credentials: 'same-origin' })
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`)
  return response.json()
}

// ---- the list page ----
async function listPage() {
  document.title = 'longhaul — runs'
  const render = async () => {
    try {
      const { runs } = await getJson('/api/runs')
      main.replaceChildren(...(runs.length ? runs.map((run) => runCard(run, true)) : [el('p', { class: 'muted' }, 'No runs under this folder yet.')]))
      main.setAttribute('aria-busy', 'false')
      liveNote.textContent = `updated ${new Date().toLocaleTimeString()}`
    } catch (error) {
      liveNote.textContent = `cannot reach the server (${error.message}); retrying`
    }
  }
  await render()
  setInterval(render, 2_000)
}

// ---- one run's page ----
async function runPage(id) {
  let detail
  try {
    detail = await getJson(`/api/runs/${encodeURIComponent(id)}`)
  } catch (error) {
    main.replaceChildren(el('p', {}, `No such run (${error.message}). `, el('a', { href: '/' }, 'All runs')))
    return
  }
  document.title = `longhaul — ${detail.snapshot.job}`
  const header = el('div')
  const chartCard = el('section', { class: 'card' }, el('h3', {}, 'Items per second'), el('div', { id: 'chart' }))
  const timeline = el('section', { class: 'card' })
  const events = el('section', { class: 'card' })
  const proofs = el('section', { class: 'card' })
  main.replaceChildren(el('a', { href: '/' }, '← all runs'), header, chartCard, timeline, events, proofs)
  main.setAttribute('aria-busy', 'false')

  const series = rateSeries(detail.checkpoints)
  const chart = makeChart(chartCard.querySelector('#chart'), series)
  const render = (run) => {
    header.replaceChildren(runCard(run, false))
    renderTimeline(timeline, detail.checkpoints)
    renderEvents(events, detail.events)
    renderProofs(proofs, detail.proofs, detail.report)
  }
  render(detail)

  let lastDone = detail.snapshot.done
  const source = new EventSource(`/api/runs/${encodeURIComponent(id)}/events`)
  source.addEventListener('status', async (message) => {
    const run = JSON.parse(message.data)
    liveNote.textContent = `live · updated ${new Date().toLocaleTimeString()}`
    const changedState = run.snapshot.state !== detail.snapshot.state || run.ownerGone !== detail.ownerGone
    detail = { ...detail, ...run }
    if (run.snapshot.done !== lastDone && run.snapshot.itemsPerSecond !== null && chart) {
      series[0].push(Date.now() / 1000)
      series[1].push(run.snapshot.itemsPerSecond)
      chart.setData(series)
    }
    lastDone = run.snapshot.done
    // The history (events, commits, proofs) is fetched again when the state changes, and now and then.
    if (changedState || Math.random() < 0.1) {
      const fresh = await getJson(`/api/runs/${encodeURIComponent(id)}`).catch(() => undefined)
      if (fresh) detail = fresh
    }
    render(detail)
  })
  source.addEventListener('error', () => (liveNote.textContent = 'reconnecting…'))
}

/** Items per second between consecutive commits, from the checkpoint timeline. */
function rateSeries(checkpoints) {
  const xs = []
  const ys = []
  for (let i = 1; i < checkpoints.length; i++) {
    const dt = (checkpoints[i].at - checkpoints[i - 1].at) / 1000
    if (dt <= 0) continue
    xs.push(checkpoints[i].at / 1000)
    ys.push((checkpoints[i].end - checkpoints[i].start) / dt)
  }
  return [xs, ys]
}

function makeChart(target, data) {
  if (typeof uPlot !== 'function') return null
  const width = () => Math.max(280, target.clientWidth)
  const chart = new uPlot({
    width: width(), height: 220,
    scales: { x: { time: true } },
    axes: [{ stroke: getComputedStyle(document.body).color }, { stroke: getComputedStyle(document.body).color, label: 'items/s' }],
    series: [{}, { label: 'items/s', stroke: '#1f6feb', width: 2, fill: 'rgba(31,111,235,0.08)' }],
  }, data, target)
  window.addEventListener('resize', () => chart.setSize({ width: width(), height: 220 }))
  return chart
}

function renderTimeline(card, checkpoints) {
  const recent = checkpoints.slice(-120)
  const largest = Math.max(1, ...recent.map((c) => c.end - c.start))
  fill(card, 
    el('h3', {}, `Checkpoints (${count(checkpoints.length)}${checkpoints.length >= 2000 ? ', newest' : ''})`),
    recent.length
      ? el('div', { class: 'timeline', title: 'each bar is a commit; its height is the items it committed' },
          recent.map((c) => el('span', { style: `height:${Math.max(8, (100 * (c.end - c.start)) / largest)}%`, title: `items ${c.start}–${c.end - 1} at ${new Date(c.at).toLocaleTimeString()}` })))
      : el('p', { class: 'muted' }, 'No commits yet.'),
    recent.length ? el('p', { class: 'muted' }, `last: items ${count(recent.at(-1).start)}–${count(recent.at(-1).end - 1)} at ${new Date(recent.at(-1).at).toLocaleTimeString()}`) : null,
  )
}

function renderEvents(card, events) {
  fill(card, 
    el('h3', {}, 'Events'),
    events.length
      ? el('table', {}, el('tbody', {}, [...events].reverse().map((e) =>
          el('tr', {}, el('td', { class: 'num' }, new Date(e.at).toLocaleString()), el('td', {}, e.type), el('td', { class: 'muted' }, describe(e.detail))))))
      : el('p', { class: 'muted' }, 'No events yet.'),
  )
}
const describe = (detail) => Object.entries(detail ?? {}).map(([k, v]) => `${k} ${typeof v === 'object' ? JSON.stringify(v) : v}`).join(', ')

function renderProofs(card, proofs, report) {
  const latest = proofs[0]
  const failures = latest ? latest.checks.filter((c) => !c.passed) : []
  const validation = latest?.checks.find((c) => c.id === 'validation')
  fill(card, 
    el('h3', {}, 'Preflight'),
    latest
      ? el('p', {}, el('strong', { class: latest.verdict === 'PASSED' ? '' : 'fail' }, latest.verdict), ` for ${count(latest.target)} items, valid until ${latest.expiresAt}`)
      : el('p', { class: 'muted' }, 'No preflight proof for this job here.'),
    failures.length ? el('ul', {}, failures.flatMap((c) => c.failures.map((f) => el('li', { class: 'fail' }, f)))) : null,
    validation ? el('p', {}, el('strong', {}, 'Validation: '), validation.evidence) : null,
    report ? el('details', {}, el('summary', {}, 'PREFLIGHT.md'), el('pre', {}, report)) : null,
  )
}

const match = /^\/runs\/([^/]+)\/?$/.exec(location.pathname)
if (match) runPage(decodeURIComponent(match[1]))
else listPage()
