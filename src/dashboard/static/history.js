// Every run of the same job under the served folder, side by side, and two of them compared.

import { el, runHref } from './dom.js'
import { clockTime, count, duration, rate } from './format.js'
import { usageText } from './services.js'

const short = (hash) => (hash ? hash.slice(0, 12) : '—')
const json = (v) => (v === null || v === undefined ? '—' : JSON.stringify(v))
const doneText = (r) => (r.total === null ? count(r.done) : `${count(r.done)} / ${count(r.total)}`)
const OUTCOME_TONE = { complete: 'good', failed: 'bad', stalled: 'warn', interrupted: 'warn', 'not running': 'warn' }

/** What two runs are compared on: label and text of a row. */
const COMPARED = [
  ['Folder', (r) => r.dir],
  ['Outcome', (r) => r.outcome.toUpperCase()],
  ['Created', (r) => clockTime(r.createdAt)],
  ['Working time', (r) => duration(r.workingSeconds)],
  ['Sessions', (r) => count(r.sessions)],
  ['Committed', doneText],
  ['Items/s', (r) => rate(r.itemsPerSecond)],
  ['Digest', (r) => r.digest ?? '—'],
  ['Fingerprint', (r) => r.fingerprint ?? '—'],
  ['Params', (r) => json(r.params)],
  ['Seed', (r) => (r.seed === null ? '—' : String(r.seed))],
  ['Usage', (r) => usageText(r.usage) ?? '—'],
]

export class HistorySection {
  constructor(currentId) {
    this.currentId = currentId
    this.rows = []
    this.picked = [currentId]
    this.root = el('section', { class: 'card', 'aria-labelledby': 'history-title' })
  }

  update(history) {
    this.rows = history?.runs ?? []
    this.job = history?.job ?? ''
    const ids = new Set(this.rows.map((r) => r.id))
    this.picked = this.picked.filter((id) => ids.has(id))
    // Compared by default: this run and the newest other one.
    if (this.picked.length < 2) {
      const other = this.rows.find((r) => !this.picked.includes(r.id))
      if (other) this.picked.push(other.id)
    }
    this.render()
  }

  pick(id, on) {
    this.picked = on ? [...this.picked.filter((p) => p !== id), id].slice(-2) : this.picked.filter((p) => p !== id)
    this.render()
  }

  render() {
    const children = [el('h2', { id: 'history-title' }, 'History of this job')]
    if (this.rows.length <= 1) {
      children.push(el('p', { class: 'muted' }, 'This is the only run of this job under the served folder.'))
      this.root.replaceChildren(...children)
      return
    }
    children.push(
      el(
        'p',
        { class: 'muted' },
        `${count(this.rows.length)} runs of ${this.job}, newest first. Tick two to compare them.`,
      ),
      el(
        'div',
        { class: 'scroll' },
        el(
          'table',
          { class: 'history' },
          el(
            'thead',
            {},
            el(
              'tr',
              {},
              ['Compare', 'Run', 'Outcome', 'Created', 'Working', 'Committed', 'Items/s', 'Digest'].map((h) =>
                el('th', {}, h),
              ),
            ),
          ),
          el(
            'tbody',
            {},
            this.rows.map((r) => this.row(r)),
          ),
        ),
      ),
    )
    const [a, b] = this.picked.map((id) => this.rows.find((r) => r.id === id))
    if (a && b) children.push(compare(a, b))
    this.root.replaceChildren(...children)
  }

  row(r) {
    const box = el('input', {
      type: 'checkbox',
      checked: this.picked.includes(r.id),
      'aria-label': `compare ${r.dir}`,
    })
    box.addEventListener('change', () => this.pick(r.id, box.checked))
    return el(
      'tr',
      { 'data-run': r.id, class: r.id === this.currentId ? 'current' : null },
      el('td', {}, box),
      el(
        'td',
        { class: 'detail' },
        r.id === this.currentId ? el('strong', {}, `${r.dir} (this run)`) : el('a', { href: runHref(r.id) }, r.dir),
      ),
      el('td', {}, el('span', { class: `event ${OUTCOME_TONE[r.outcome] ?? ''}` }, r.outcome.toUpperCase())),
      el('td', { class: 'num nowrap' }, clockTime(r.createdAt)),
      el('td', { class: 'num' }, duration(r.workingSeconds)),
      el('td', { class: 'num' }, doneText(r)),
      el('td', { class: 'num' }, rate(r.itemsPerSecond)),
      el('td', { class: 'num' }, el('code', {}, short(r.digest))),
    )
  }
}

/** Two runs side by side, each row saying in words whether they agree. */
function compare(a, b) {
  const sameDigest = a.digest && b.digest && a.digest === b.digest
  const verdict =
    a.digest && b.digest
      ? sameDigest
        ? 'Same digest: the two runs made the same bytes.'
        : a.fingerprint === b.fingerprint
          ? 'Different digests from the same job identity: the job is not deterministic, or a run was damaged.'
          : 'Different digests: the runs differ in their job, params or seed (see below).'
      : 'Not both complete: no digests to compare yet.'
  return el(
    'div',
    { class: 'compare' },
    el('h3', {}, 'Compared'),
    el('p', {}, verdict),
    el(
      'div',
      { class: 'scroll' },
      el(
        'table',
        { class: 'compare' },
        el('thead', {}, el('tr', {}, el('th', {}, ''), el('th', {}, 'A'), el('th', {}, 'B'), el('th', {}, ''))),
        el(
          'tbody',
          {},
          COMPARED.map(([label, text]) => {
            const [x, y] = [text(a), text(b)]
            const same = x === y
            return el(
              'tr',
              { 'data-same': same ? 'yes' : 'no' },
              el('th', { scope: 'row' }, label),
              el('td', { class: 'detail' }, x),
              el('td', { class: 'detail' }, y),
              el('td', { class: `muted nowrap ${same ? '' : 'differs'}` }, same ? 'same' : 'differs'),
            )
          }),
        ),
      ),
    ),
  )
}
