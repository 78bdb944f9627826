// What a run's state, ETA, address, amounts and bar say, as text: no DOM, so that the server can write the list's
// first rows with the very words the page uses (runRow.js, listHtml.ts).

import { count, duration, percentOf, secondsSince, serverNow, unitOf } from './format.js'

/** The state as a word (never a colour alone) and the key its colour hangs on. */
export function stateOf(run) {
  if (run.gone) return { word: 'GONE', key: 'gone' }
  if (run.unreadable) return { word: 'UNREADABLE', key: 'failed' }
  if (run.ownerGone) return { word: 'NOT RUNNING', key: 'gone' }
  return { word: run.snapshot.state.toUpperCase(), key: run.snapshot.state }
}

/** When the server read the status, on its clock: the heartbeat's time plus its age then. */
const readAt = (run) => Date.parse(run.snapshot.heartbeatAt) + run.heartbeatAgeSeconds * 1000

/**
 * The ETA as the run's files say it (invariant honest-eta), never made up
 * here. A stalled run's is unknown: nothing finishes, so no time can be
 * promised. The files' estimate, at the pace measured with the stall in it,
 * is shown beside it, growing with every second nothing finishes: it was
 * computed when progress.json was written, and since then the pace has only
 * slowed (over a session `elapsed` long, by at least (elapsed + since) /
 * elapsed), so it is scaled by that much and never counts down.
 */
export function etaText(run) {
  const s = run.snapshot
  if (run.unreadable || run.gone) return '—'
  if (s.state === 'complete') return 'done'
  if (s.state !== 'running' && s.state !== 'stalled') return '—'
  if (s.state === 'stalled' && !run.ownerGone) {
    const quiet = s.stalledForSeconds === null ? null : s.stalledForSeconds + (serverNow() - readAt(run)) / 1000
    const why = `stalled: nothing has finished for ${duration(quiet ?? 0)}`
    if (s.etaSeconds === null) return `unknown (${why})`
    const since = Math.max(0, secondsSince(s.updatedAt))
    const growing = s.etaSeconds * (s.elapsedSeconds > 0 ? (s.elapsedSeconds + since) / s.elapsedSeconds : 1)
    return `unknown (${why}); ${duration(growing)} at the pace so far, stall included, and growing`
  }
  if (s.etaSeconds === null) return `unknown (${s.etaUnknownBecause ?? 'not enough data yet'})`
  const range = s.etaLow !== null && s.etaHigh !== null ? ` (${duration(s.etaLow)} – ${duration(s.etaHigh)})` : ''
  return `${duration(s.etaSeconds)}${range}`
}

/**
 * A run page's address, for a run (or its id). Several folders may hold one run (copies): the folder is then part
 * of the address, so each can be opened.
 */
export function runHref(run) {
  if (typeof run === 'string') return `/runs/${encodeURIComponent(run)}`
  const path = `/runs/${encodeURIComponent(run.id)}`
  return run.copyOf || run.copies?.length ? `${path}?dir=${encodeURIComponent(run.dir)}` : path
}

/** A counter's amount: money as money, anything else as a count. */
export function amount(unit, n) {
  if (n === null || n === undefined || !Number.isFinite(n)) return '—'
  if (unit === 'usd')
    return n >= 100 ? `$${count(Math.round(n))}` : n >= 1 ? `$${n.toFixed(2)}` : `$${n.toPrecision(2)}`
  return Math.abs(n) >= 100 || Number.isInteger(n) ? count(Math.round(n)) : n.toPrecision(3)
}

/**
 * A progress bar's attributes, what it says to a screen reader (done of total, or the count when the total is
 * unknown), and its fill's width.
 */
export function barOf(s) {
  const known = s.total !== null && s.total !== undefined
  const percent = percentOf(s.done, s.total)
  return {
    attrs: {
      'aria-valuemax': known ? String(s.total) : '',
      'aria-valuenow': String(s.done),
      'aria-valuetext': known
        ? `${count(s.done)} of ${count(s.total)} ${unitOf(s)} (${percent.toFixed(1)}%)`
        : `${count(s.done)} ${unitOf(s)}, total unknown`,
      'aria-label': `${s.job} progress`,
    },
    width: `${Math.min(100, percent).toFixed(2)}%`,
  }
}
