// One run's card: name, state, bar and facts; the list's item and the run page's header.

import { el, runHref, setAttr, setText } from './dom.js'
import { baseName, count, duration, percentOf, rate, secondsSince, unitOf } from './format.js'

/** The state as a word (never a colour alone) and the key its colour hangs on. */
export function stateOf(run) {
  if (run.ownerGone) return { word: 'NOT RUNNING', key: 'gone' }
  return { word: run.snapshot.state.toUpperCase(), key: run.snapshot.state }
}

export function etaText(s) {
  if (s.state === 'complete') return 'done'
  if (s.state !== 'running' && s.state !== 'stalled') return '—'
  if (s.etaSeconds === null) return `unknown (${s.etaUnknownBecause ?? 'not enough data yet'})`
  const range = s.etaLow !== null && s.etaHigh !== null ? ` (${duration(s.etaLow)} – ${duration(s.etaHigh)})` : ''
  return `${duration(s.etaSeconds)}${range}`
}

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

export class RunCard {
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
