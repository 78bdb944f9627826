// One run, live: `/runs/<id>`.

import { RunCard, stateOf } from './card.js'
import { ThroughputChart } from './chart.js'
import { el, showConnection } from './dom.js'
import { clockTime, duration, learnServerClock, percentOf } from './format.js'
import { RunGains } from './gains.js'
import { follow } from './live.js'
import { renderEvents, renderPreflight, renderTimeline } from './sections.js'

/** A run's history (commits, events, proofs) is fetched again at most this often while it moves. */
const HISTORY_REFRESH_MS = 2_000
/** The server re-sends a live run's status every few seconds; silence past this is worth saying. */
const SILENT_AFTER_MS = 15_000

const main = document.getElementById('main')

/** Complete or failed, and nobody working on it: nothing will change. */
const finished = (run) => !run.live && !run.ownerGone && ['complete', 'failed'].includes(run.snapshot.state)

/** Commits and events kept, as the server keeps them in a whole answer (runs.ts). */
const MAX_EVENTS = 200
const MAX_CHECKPOINTS = 2_000

/**
 * The run's page data; `{ gone }` when the server says its folder no longer holds it (410). Given what the page
 * has (`held`: an earlier answer), only what came after it is asked for, and merged into it: the same as a whole
 * answer, without sending the run's whole history again at each commit.
 */
async function fetchDetail(id, dir, held) {
  const params = new URLSearchParams()
  if (dir !== undefined) params.set('dir', dir)
  if (held) {
    params.set('since', String(held.eventCount))
    params.set('proofs', held.proofsTag)
  }
  const url = `/api/runs/${encodeURIComponent(id)}${String(params) ? `?${params}` : ''}`
  const response = await fetch(url, { credentials: 'same-origin', headers: { Accept: 'application/json' } })
  if (response.status === 410) return { gone: (await response.json()).error }
  if (!response.ok) throw new Error(`${url} answered HTTP ${response.status}`)
  const fresh = await response.json()
  if (!held || fresh.since === undefined) return fresh
  return {
    ...fresh,
    events: [...held.events, ...fresh.events].slice(-MAX_EVENTS),
    checkpoints: [...held.checkpoints, ...fresh.checkpoints].slice(-MAX_CHECKPOINTS),
    proofs: fresh.proofs ?? held.proofs,
    report: fresh.report === undefined ? held.report : fresh.report,
  }
}

export async function runPage(id) {
  const asked = new URLSearchParams(location.search).get('dir') ?? undefined
  let detail
  try {
    detail = await fetchDetail(id, asked)
    if (detail.gone) throw new Error(detail.gone)
  } catch (error) {
    main.replaceChildren(
      el('p', { class: 'card' }, `This run cannot be shown: ${error.message}. `, el('a', { href: '/' }, 'All runs')),
    )
    main.setAttribute('aria-busy', 'false')
    return
  }
  // From here on the page follows the folder it shows, so that it can tell when that folder no longer holds the run.
  const dir = detail.dir
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
    chart.reset(d)
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
  /** The history as last fetched: the next fetch asks only for what came after it. */
  let held = detail
  let fetchedAt = Date.now()
  let pending = null
  let ticker = null
  let stopped = false
  /** The run's folder no longer holds it: said on the page, and nothing more is followed or counted. */
  const gone = (because) => {
    if (stopped) return
    stopped = true
    clearTimeout(pending)
    clearInterval(ticker)
    current = { ...current, live: false, gone: `${because}. What is shown is how the run last stood.` }
    card.update(current)
    showTitle(current)
    showConnection('offline', 'stopped: the run is gone')
  }
  /** Asks for what came after `held`; resolves with the run as it now stands, or undefined (gone, or unreachable). */
  const refreshHistory = async () => {
    pending = null
    fetchedAt = Date.now()
    const fresh = await fetchDetail(id, dir, held).catch(() => undefined)
    if (stopped || !fresh) return undefined
    if (fresh.gone) {
      gone(fresh.gone)
      return undefined
    }
    held = fresh
    showHistory(fresh)
    return fresh
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
  // A finished run does not move: it is fetched once, and no live connection is held for it.
  if (finished(detail)) {
    showConnection('finished', `finished · read ${clockTime(Date.now())}`)
    setInterval(() => card.render(), 1_000)
    return
  }
  const onRun = (run) => {
    if (stopped) return
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
    chart.status(run)
    if (moved && run.snapshot.lastCheckpointAt)
      chart.add(Date.parse(run.snapshot.lastCheckpointAt), run.snapshot.done, run.snapshot.total)
    if (changed || moved) scheduleHistory(changed)
  }
  // Live updates say what changes from when they (re)start: the run as it is then is asked for, so that what happened
  // between the page's data and that moment (its folder deleted, the run finished) is not missed.
  const caughtUp = async () => {
    clearTimeout(pending)
    const fresh = await refreshHistory()
    if (fresh) onRun(fresh)
  }
  follow(id, onRun, { dir, onGone: (message) => gone(message.because), onOpen: () => void caughtUp() })
  ticker = setInterval(() => {
    card.render()
    const silent = Date.now() - lastMessageAt
    if (current.live && silent > SILENT_AFTER_MS) {
      showConnection('offline', `no update from the server for ${duration(silent / 1000)}`)
      // Silence can mean the run went away: the server says so when asked.
      if (!pending) scheduleHistory(false)
    }
  }, 1_000)
}
