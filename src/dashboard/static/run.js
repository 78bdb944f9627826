// One run, live: `/runs/<id>`.

import { RunCard, stateOf } from './card.js'
import { commitPoints, ThroughputChart } from './chart.js'
import { el, getJson, showConnection } from './dom.js'
import { duration, learnServerClock, percentOf } from './format.js'
import { RunGains } from './gains.js'
import { follow } from './live.js'
import { renderEvents, renderPreflight, renderTimeline } from './sections.js'

/** A run's history (commits, events, proofs) is fetched again at most this often while it moves. */
const HISTORY_REFRESH_MS = 2_000
/** The server re-sends a live run's status every few seconds; silence past this is worth saying. */
const SILENT_AFTER_MS = 15_000

const main = document.getElementById('main')

export async function runPage(id) {
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
  const gains = new RunGains(detail)
  const timeline = el('section', { class: 'card', 'aria-labelledby': 'commits-title' })
  const events = el('section', { class: 'card', 'aria-labelledby': 'events-title' })
  const preflight = el('section', { class: 'card', 'aria-labelledby': 'preflight-title' })
  main.replaceChildren(
    el('nav', { class: 'back' }, el('a', { href: '/' }, '← All runs')),
    card.root,
    ...gains.top,
    chart.root,
    ...gains.rest,
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
    gains.refresh()
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
    gains.update(run)
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
