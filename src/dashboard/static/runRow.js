// The list of runs described as plain data: each run's row, the frame around the rows (heading, filters, the
// table's head), the order and the filter. A description is `{ tag, attrs, children }`, its children text or
// descriptions. The server writes the frame and the first rows as escaped HTML (listHtml.ts), so they are painted
// before any script runs or any data is fetched; the page builds and updates its elements from the same
// descriptions (listTable.js). No DOM here: the server imports this module.

import { count, duration, percentOf, rate, secondsSince, unitOf } from './format.js'
import { amount, barOf, etaText, runHref, stateOf } from './runWords.js'

/**
 * Rows the server writes into the page: what a laptop's window shows (a row is about 46 px high, a 1080p laptop's
 * window about 16 of them under the list's heading). The page adds the rest once it has read the list (list.js).
 */
export const FIRST_ROWS = 20

export const STATES = ['running', 'stalled', 'not running', 'failed', 'interrupted', 'complete']

/**
 * An element's description: attributes as strings (`true` is an empty one; null, undefined and false are left out),
 * children as text or descriptions (empty text left out, neighbouring text joined, as HTML would read it back).
 */
export function h(tag, attrs = {}, ...children) {
  const described = { tag, attrs: {}, children: [] }
  for (const [name, value] of Object.entries(attrs))
    if (value !== undefined && value !== null && value !== false)
      described.attrs[name] = value === true ? '' : String(value)
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false || child === '') continue
    const last = described.children.length - 1
    if (typeof child === 'object') described.children.push(child)
    else if (typeof described.children[last] === 'string') described.children[last] += String(child)
    else described.children.push(String(child))
  }
  return described
}

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

/** How rows are ordered: a column and a direction, or (no column) by interest. */
export function comparator(sort) {
  const column = COLUMNS.find((c) => c.key === sort.key)
  if (!column) return byInterest
  const sign = sort.descending ? -1 : 1
  return (a, b) => sign * column.order(a, b) || byInterest(a, b)
}

/** What the list shows, as its address says (?q=…&state=…&sort=…&desc=1): the filter and the order. */
export function viewOf(params) {
  return {
    text: params.get('q') ?? '',
    state: params.get('state') ?? '',
    sort: { key: params.get('sort') ?? '', descending: params.get('desc') === '1' },
  }
}

/** What the filter's text is looked for in. */
export const searchTextOf = (run) => `${run.snapshot.job}\n${run.dir}\n${run.id}`.toLowerCase()

/** True when a run (its searchTextOf given) passes the filter. */
export function matches(search, run, view) {
  const text = view.text.trim().toLowerCase()
  return (!text || search.includes(text)) && (!view.state || stateOf(run).word.toLowerCase() === view.state)
}

/** True when the run's items report usage (`ctx.usage`): the table then has a Cost column (table.css). */
export const hasUsage = (run) => Object.keys(run.snapshot.usage ?? {}).length > 0

/** `500 runs — 450 complete, 50 failed`. */
export function overviewText(runs) {
  const byState = new Map()
  for (const run of runs) {
    const word = stateOf(run).word.toLowerCase()
    byState.set(word, (byState.get(word) ?? 0) + 1)
  }
  const listed = [...byState].map(([word, n]) => `${n} ${word}`).join(', ')
  return `${count(runs.length)} run${runs.length === 1 ? '' : 's'}${byState.size ? ' — ' : ''}${listed}`
}

/** Under the filters, once every row is in the table: how many of them the filter shows, or nothing for all. */
export const shownText = (visible, total) => (visible === total ? '' : `${count(visible)} shown`)

/** A row's age column, said again every second. */
export const updatedText = (run) => `${duration(secondsSince(run.snapshot.updatedAt))} ago`

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

/** A table cell; its role said outright, since the rows are laid out as grids (table.css). */
const cell = (column, attrs, ...children) => h('td', { role: 'cell', ...attrs, 'data-col': column }, ...children)

/**
 * A run's row: every cell's text, classes and attributes. As few elements as show it: a cell holds its text itself,
 * and what is not said (a badge, an explanation, a cost) is left out rather than hidden.
 */
export function rowOf(run) {
  const s = run.snapshot
  const state = stateOf(run)
  const waived = s.gate?.status === 'waived'
  // Said in words only when the run is stalled, not running, unreadable or a copy of another folder's run.
  const explain =
    run.ownerGone || s.state === 'stalled' || run.shared?.ownerAlive === false || run.problem || run.copyOf
  const known = s.total !== null && s.total !== undefined
  const bar = barOf(s)
  const [cost, used] = usageCell(s.usage)
  return h(
    'tr',
    { role: 'row', class: 'run', 'data-run': run.id, 'data-dir': run.dir, 'data-state': state.key },
    cell('state', {}, h('span', { class: 'state', 'data-state': state.word }, state.word)),
    // Marked for Element Timing: the browser tells when the first rows were painted (bench/cases/dashboard.mjs).
    cell(
      'job',
      { class: 'job', elementtiming: 'run' },
      run.unreadable ? h('span', {}, s.job) : h('a', { href: runHref(run) }, s.job),
      waived && [' ', h('span', { class: 'badge', 'data-gate': 'waived' }, 'WAIVED')],
      explain &&
        h(
          'span',
          { class: 'summary' },
          run.unreadable ? run.problem : run.copyOf ? `a copy of the run in ${run.copyOf}` : run.summary,
        ),
    ),
    cell('dir', { class: 'dir' }, run.dir),
    cell(
      'progress',
      { class: 'counts' },
      known
        ? `${count(s.done)} / ${count(s.total)} · ${percentOf(s.done, s.total).toFixed(1)}%`
        : `${count(s.done)} ${unitOf(s)}, total unknown`,
      h(
        'div',
        { class: 'bar', role: 'progressbar', 'aria-valuemin': 0, ...bar.attrs },
        h('div', { class: 'fill', style: `width: ${bar.width}` }),
      ),
    ),
    cell('rate', { class: 'num' }, `${rate(s.itemsPerSecond)}${s.itemsPerSecond === null ? '' : ` ${unitOf(s)}/s`}`),
    cell('eta', { class: 'num' }, etaText(run)),
    cell(
      'usage',
      { class: 'num' },
      cost && h('span', { class: 'cost' }, cost),
      used && h('span', { class: 'used' }, used),
    ),
    cell('updated', { class: 'num' }, updatedText(run)),
  )
}

/** A column heading's `aria-sort`: which column the rows are ordered by, and how. */
export const ariaSort = (key, sort) => (sort.key !== key ? 'none' : sort.descending ? 'descending' : 'ascending')

/**
 * The list's frame: its heading and counts, the filters, the table and its head, holding `rows` (descriptions).
 * `runs` are every run listed, or null before they are known.
 */
export function listFrame(view, runs, rows) {
  const known = runs !== null
  const head = h(
    'thead',
    { role: 'rowgroup' },
    h(
      'tr',
      { role: 'row' },
      COLUMNS.map((column) =>
        h(
          'th',
          { role: 'columnheader', scope: 'col', 'data-col': column.key, 'aria-sort': ariaSort(column.key, view.sort) },
          h('button', { type: 'button', class: 'sort', 'data-sort': column.key }, column.label),
        ),
      ),
    ),
  )
  return [
    h(
      'div',
      { class: 'heading' },
      h('h1', {}, 'Runs'),
      h('p', { class: 'overview muted' }, known && overviewText(runs)),
    ),
    h(
      'div',
      { class: 'filters' },
      h('input', {
        type: 'search',
        placeholder: 'Filter by job, folder or id',
        'aria-label': 'Filter runs by job, folder or id',
        value: view.text,
      }),
      h(
        'select',
        { 'aria-label': 'Show runs in this state' },
        h('option', { value: '', selected: view.state === '' }, 'every state'),
        STATES.map((word) => h('option', { value: word, selected: view.state === word }, word)),
      ),
      h('p', { class: 'muted shown', role: 'status' }, known && runs.length <= FIRST_ROWS && shownOf(runs, view)),
    ),
    h(
      'p',
      { class: 'card muted', hidden: !known || runs.length > 0 },
      'No runs under this folder yet. A run started with ',
      h('code', {}, 'longhaul run JOB --out DIR'),
      ' inside it shows here.',
    ),
    h(
      'div',
      { class: 'table-wrap' },
      h(
        'table',
        {
          role: 'table',
          class: `runs-table${known && runs.some(hasUsage) ? ' with-usage' : ''}`,
          hidden: known && runs.length === 0,
        },
        h('caption', { class: 'sr-only' }, 'Runs'),
        head,
        h('tbody', { role: 'rowgroup' }, rows),
      ),
    ),
  ]
}

const shownOf = (runs, view) =>
  shownText(runs.filter((run) => matches(searchTextOf(run), run, view)).length, runs.length)

/**
 * The list as the server writes it: the frame and the first rows, in the list's order, those the filter hides
 * hidden (as the page has them before it adds the rest).
 */
export function firstListed(runs, params) {
  const view = viewOf(params)
  const rows = [...runs]
    .sort(comparator(view.sort))
    .slice(0, FIRST_ROWS)
    .map((run) => {
      const row = rowOf(run)
      if (!matches(searchTextOf(run), run, view)) row.attrs.hidden = ''
      return row
    })
  return listFrame(view, runs, rows)
}
