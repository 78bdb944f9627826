// One run's card: name, state, bar and facts; the list's item and the run page's header.

import { el, setAttr, setText } from './dom.js'
import { baseName, clockTime, count, duration, percentOf, rate, secondsSince, unitOf } from './format.js'
import { barOf, etaText, runHref, stateOf } from './runWords.js'

// The state's word and the ETA are said the same way on the list (runRow.js): they live in runWords.js.
export { etaText, stateOf }

/** The run ended by itself (complete, failed, interrupted): nothing about it moves any more. */
const ended = (run) => !run.live && !run.ownerGone && !['running', 'stalled'].includes(run.snapshot.state)

/** Items the workers finished that no commit holds: on their way while the run lives, lost (and made again on resume) once it does not. */
function inFlightText(run) {
  const n = run.snapshot.inFlight
  if (!(n > 0) || run.unreadable || run.snapshot.state === 'complete') return ''
  if (run.live) return ` +${count(n)} finished, not yet committed`
  return ` · ${count(n)} finished but never committed: lost, they will be made again on resume`
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
  ['copy', 'Same run in'],
  ['error', 'Error'],
  ['problem', 'Cannot read'],
]

export class RunCard {
  constructor(run, { linked }) {
    this.name = linked && !run.unreadable ? el('a', { href: runHref(run) }) : el('span')
    this.state = el('span', { class: 'state' })
    this.badge = el('span', { class: 'badge' })
    this.copyBadge = el('span', { class: 'badge', 'data-copy': '', hidden: true }, 'COPY')
    this.dir = el('span', { class: 'dir' })
    this.summary = el('p', { class: 'summary' })
    this.fill = el('div', { class: 'fill' })
    this.bar = el('div', { class: 'bar', role: 'progressbar', 'aria-valuemin': 0 }, this.fill)
    this.counts = el('span', { class: 'counts' })
    this.inFlight = el('span', { class: 'in-flight muted' })
    this.percent = el('span', { class: 'percent' })
    this.facts = {}
    this.labels = {}
    const rows = FACTS.map(([key, label]) => {
      this.facts[key] = el('dd')
      this.labels[key] = el('dt', {}, label)
      // A sentence (a copy, an error, what cannot be read) takes the whole row.
      const wide = key === 'copy' || key === 'error' || key === 'problem' ? 'grid-column: 1 / -1' : null
      return el('div', { 'data-fact': key, style: wide }, this.labels[key], this.facts[key])
    })
    this.root = el(
      'article',
      { class: 'card run', 'data-run': run.id, 'data-dir': run.dir },
      el('div', { class: 'title' }, el(linked ? 'h2' : 'h1', {}, this.name), this.state, this.badge, this.copyBadge),
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
    if (this.name.href !== undefined && !run.unreadable) setAttr(this.name, 'href', runHref(run))
    setText(this.state, state.word)
    setAttr(this.state, 'data-state', state.word)
    setAttr(this.root, 'data-state', state.key)
    setText(this.dir, run.dir)
    this.badge.hidden = !gate
    if (gate) {
      setText(this.badge, gate.badge)
      setAttr(this.badge, 'data-gate', gate.key)
    }
    this.copyBadge.hidden = !run.copyOf
    // The summary says more than the word only when the run is stalled, gone or not readable, or a shared run's owner is gone.
    const explain =
      run.gone || run.ownerGone || s.state === 'stalled' || run.shared?.ownerAlive === false || run.problem
    this.summary.hidden = !explain
    if (explain) setText(this.summary, run.gone ?? (run.unreadable ? 'This run folder cannot be read.' : run.summary))

    const known = s.total !== null && s.total !== undefined
    setText(
      this.counts,
      run.unreadable
        ? ''
        : known
          ? `${count(s.done)} / ${count(s.total)}${s.unit ? ` ${s.unit}` : ''}`
          : `${count(s.done)} ${unitOf(s)}, total unknown`,
    )
    setText(this.inFlight, inFlightText(run))
    setText(this.percent, known ? `${percent.toFixed(1)}%` : '')
    showBar(this.bar, this.fill, s)

    // A finished, gone or unreadable run's times are moments, not ages that keep counting.
    const still = ended(run) || run.gone || run.unreadable
    const moment = (iso) => clockTime(Date.parse(iso))
    const live = run.live && !run.gone
    const elapsed = live ? s.elapsedSeconds + Math.max(0, secondsSince(s.updatedAt)) : s.elapsedSeconds
    const readable = !run.unreadable
    this.fact(
      'rate',
      readable ? `${rate(s.itemsPerSecond)}${s.itemsPerSecond === null ? '' : ` ${unitOf(s)}/s`}` : null,
    )
    this.fact('eta', readable ? etaText(run) : null)
    this.fact('elapsed', readable ? duration(elapsed) : null)
    this.fact(
      'checkpoint',
      !readable
        ? null
        : !s.lastCheckpointAt
          ? 'none yet'
          : still
            ? moment(s.lastCheckpointAt)
            : `${duration(secondsSince(s.lastCheckpointAt))} ago`,
    )
    setText(this.labels.heartbeat, ended(run) ? 'Finished' : run.gone ? 'Last heartbeat' : 'Heartbeat')
    this.fact(
      'heartbeat',
      !readable
        ? null
        : ended(run)
          ? moment(s.updatedAt)
          : !s.owner?.pid
            ? 'unknown (no progress.json)'
            : run.gone
              ? moment(s.heartbeatAt)
              : `${duration(secondsSince(s.heartbeatAt))} ago`,
    )
    this.fact('workers', s.owner?.pid ? `${count(s.workers)} (pid ${s.owner.pid} on ${s.owner.host})` : null)
    this.fact('gate', gate ? gate.text : null)
    this.fact('copy', copyText(run))
    this.fact('error', s.error)
    this.fact('problem', run.problem ?? null)
  }

  fact(key, text) {
    const dd = this.facts[key]
    dd.parentElement.hidden = text === null || text === undefined
    if (text !== null && text !== undefined) setText(dd, text)
  }
}

/** Where else this run is: another folder holding the same run (a copy), each opened by its own folder. */
function copyText(run) {
  if (run.copyOf) return `${run.copyOf} — this folder is a copy of that run (same run id ${run.id.slice(0, 8)}…)`
  if (run.copies?.length) return `${run.copies.join(', ')} — a copy of this run (same run id ${run.id.slice(0, 8)}…)`
  return null
}

/** A progress bar's fill and what it says to a screen reader (runWords.js). */
export function showBar(bar, fill, s) {
  const { attrs, width } = barOf(s)
  for (const [name, value] of Object.entries(attrs)) setAttr(bar, name, value)
  fill.style.width = width
}
