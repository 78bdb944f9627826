// The list's table: one compact row per run, sortable by any column. A row is updated in place when its run
// changes; rows move only when out of order.

import { etaText, showBar, stateOf } from './card.js'
import { el, runHref, setAttr, setText } from './dom.js'
import { count, duration, percentOf, rate, secondsSince, unitOf } from './format.js'
import { amount } from './services.js'

const stateRank = { running: 0, stalled: 1, gone: 2, failed: 3, interrupted: 4, complete: 5 }
const byText = (a, b) => a.localeCompare(b)
const lastOr = (n, fallback) => (n === null || n === undefined ? fallback : n)

/** Live runs first (by folder, so they hold still), then the rest, most recently updated first. */
function byInterest(a, b) {
  const liveA = a.live || a.ownerGone ? 0 : 1
  const liveB = b.live || b.ownerGone ? 0 : 1
  if (liveA !== liveB) return liveA - liveB
  if (liveA === 0) return a.dir.localeCompare(b.dir)
  return b.snapshot.updatedAt.localeCompare(a.snapshot.updatedAt)
}

/** Each column: its heading and how it sorts (ascending; a click again reverses). */
export const COLUMNS = [
  { key: 'state', label: 'State', order: (a, b) => stateRank[stateOf(a).key] - stateRank[stateOf(b).key] },
  { key: 'job', label: 'Job', order: (a, b) => byText(a.snapshot.job, b.snapshot.job) },
  { key: 'dir', label: 'Folder', order: (a, b) => byText(a.dir, b.dir) },
  {
    key: 'progress',
    label: 'Progress',
    order: (a, b) => percentOf(a.snapshot.done, a.snapshot.total) - percentOf(b.snapshot.done, b.snapshot.total),
  },
  {
    key: 'rate',
    label: 'Rate',
    order: (a, b) => lastOr(a.snapshot.itemsPerSecond, -1) - lastOr(b.snapshot.itemsPerSecond, -1),
  },
  {
    key: 'eta',
    label: 'ETA',
    order: (a, b) => lastOr(a.snapshot.etaSeconds, 1e15) - lastOr(b.snapshot.etaSeconds, 1e15),
  },
  {
    key: 'usage',
    label: 'Cost',
    order: (a, b) =>
      lastOr(a.snapshot.usage?.usd, -1) - lastOr(b.snapshot.usage?.usd, -1) ||
      lastOr(a.snapshot.usage?.tokens, -1) - lastOr(b.snapshot.usage?.tokens, -1),
  },
  { key: 'updated', label: 'Updated', order: (a, b) => byText(b.snapshot.updatedAt, a.snapshot.updatedAt) },
]

/** True when the run's items report usage (`ctx.usage`): the table then has a Cost column (table.css). */
export const hasUsage = (run) => Object.keys(run.snapshot.usage ?? {}).length > 0

/** A run's usage in its row: the cost so far (usd), then the other counters, tokens first; '' for none. */
function usageCell(usage = {}) {
  const others = Object.keys(usage)
    .filter((unit) => unit !== 'usd')
    .sort((a, b) => (b === 'tokens') - (a === 'tokens') || a.localeCompare(b))
  return [
    usage.usd === undefined ? '' : amount('usd', usage.usd),
    others.map((unit) => `${amount(unit, usage[unit])} ${unit}`).join(' · '),
  ]
}

/** How rows are ordered: a column and a direction, or (no column) by interest. */
export function comparator(sort) {
  const column = COLUMNS.find((c) => c.key === sort.key)
  if (!column) return byInterest
  const sign = sort.descending ? -1 : 1
  return (a, b) => sign * column.order(a, b) || byInterest(a, b)
}

/** A run's row. Its elements are made when it is first shown: a long list's rows further down cost nothing before. */
export class RunRow {
  constructor(run) {
    this.update(run)
  }

  /** The row's element, made on first use. */
  get root() {
    if (!this.tr) this.build()
    return this.tr
  }

  /** Takes the row out of the page, if it is in it. */
  detach() {
    this.tr?.remove()
  }

  build() {
    const run = this.run
    this.stateWord = el('span', { class: 'state' })
    this.name = run.unreadable ? el('span') : el('a', { href: runHref(run) })
    this.badge = el('span', { class: 'badge' })
    this.summary = el('span', { class: 'summary' })
    this.dir = el('span', { class: 'dir' })
    this.fill = el('div', { class: 'fill' })
    this.bar = el('div', { class: 'bar', role: 'progressbar', 'aria-valuemin': 0 }, this.fill)
    this.counts = el('span', { class: 'counts' })
    // Roles said outright: the rows are laid out as grids (table.css), which must not cost them their meaning.
    this.rate = el('td', { role: 'cell', class: 'num', 'data-col': 'rate' })
    this.eta = el('td', { role: 'cell', class: 'num', 'data-col': 'eta' })
    this.cost = el('span', { class: 'cost' })
    this.used = el('span', { class: 'used' })
    this.usage = el('td', { role: 'cell', class: 'num', 'data-col': 'usage' }, this.cost, this.used)
    this.updated = el('td', { role: 'cell', class: 'num', 'data-col': 'updated' })
    this.tr = el(
      'tr',
      { role: 'row', class: 'run', 'data-run': run.id, 'data-dir': run.dir },
      el('td', { role: 'cell', 'data-col': 'state' }, this.stateWord),
      // Marked for Element Timing: the browser tells when the first rows were painted (bench/cases/dashboard.mjs).
      el(
        'td',
        { role: 'cell', 'data-col': 'job', elementtiming: 'run' },
        el('span', { class: 'job' }, this.name, ' ', this.badge),
        this.summary,
      ),
      el('td', { role: 'cell', 'data-col': 'dir' }, this.dir),
      el('td', { role: 'cell', 'data-col': 'progress' }, this.counts, this.bar),
      this.rate,
      this.eta,
      this.usage,
      this.updated,
    )
    this.render()
  }

  update(run) {
    this.run = run
    this.search = `${run.snapshot.job}\n${run.dir}\n${run.id}`.toLowerCase()
    if (this.tr) this.render()
  }

  /** Writes every cell; called on each change. */
  render() {
    const run = this.run
    const s = run.snapshot
    const state = stateOf(run)
    setText(this.stateWord, state.word)
    setAttr(this.stateWord, 'data-state', state.word)
    setAttr(this.tr, 'data-state', state.key)
    setText(this.name, s.job)
    if (this.name.tagName === 'A') setAttr(this.name, 'href', runHref(run))
    this.badge.hidden = s.gate?.status !== 'waived'
    if (!this.badge.hidden) {
      setText(this.badge, 'WAIVED')
      setAttr(this.badge, 'data-gate', 'waived')
    }
    // Said in words only when the run is stalled, not running, unreadable or a copy of another folder's run.
    const explain =
      run.ownerGone || s.state === 'stalled' || run.shared?.ownerAlive === false || run.problem || run.copyOf
    this.summary.hidden = !explain
    if (explain)
      setText(
        this.summary,
        run.unreadable ? run.problem : run.copyOf ? `a copy of the run in ${run.copyOf}` : run.summary,
      )
    setText(this.dir, run.dir)

    const known = s.total !== null && s.total !== undefined
    const percent = percentOf(s.done, s.total)
    setText(
      this.counts,
      known
        ? `${count(s.done)} / ${count(s.total)} · ${percent.toFixed(1)}%`
        : `${count(s.done)} ${unitOf(s)}, total unknown`,
    )
    showBar(this.bar, this.fill, s)
    setText(this.rate, `${rate(s.itemsPerSecond)}${s.itemsPerSecond === null ? '' : ` ${unitOf(s)}/s`}`)
    setText(this.eta, etaText(run))
    const [cost, used] = usageCell(s.usage)
    setText(this.cost, cost)
    setText(this.used, used)
    this.tick()
  }

  /** The age, every second. */
  tick() {
    if (this.tr) setText(this.updated, `${duration(secondsSince(this.run.snapshot.updatedAt))} ago`)
  }
}

/** The table's head: a button per column that sorts by it; `aria-sort` says which and how. */
export function tableHead(sort, onSort) {
  const cells = COLUMNS.map((column) => {
    const button = el('button', { type: 'button', class: 'sort', 'data-sort': column.key }, column.label)
    button.addEventListener('click', () => onSort(column.key))
    return el('th', { role: 'columnheader', scope: 'col', 'data-col': column.key }, button)
  })
  const head = el('thead', { role: 'rowgroup' }, el('tr', { role: 'row' }, cells))
  head.showSort = (current) => {
    for (const [i, column] of COLUMNS.entries()) {
      const sorted = current.key === column.key
      setAttr(cells[i], 'aria-sort', sorted ? (current.descending ? 'descending' : 'ascending') : 'none')
    }
  }
  head.showSort(sort)
  return head
}
