// A run's commits, events and preflight.

import { el } from './dom.js'
import { clockTime, count, describe, duration, serverNow } from './format.js'

/** Commits drawn on the checkpoint timeline and listed under it. */
const TIMELINE_COMMITS = 400
const LISTED_COMMITS = 5

const itemRange = (c) => (c.end - c.start === 1 ? count(c.start) : `${count(c.start)}–${count(c.end - 1)}`)

export function renderTimeline(section, commits) {
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

export function renderEvents(section, events) {
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

export function renderPreflight(section, proofs, report) {
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
