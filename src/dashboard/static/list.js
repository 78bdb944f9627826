// The list of runs: `/`. Fetched once, then kept up to date by diffs (only the runs that changed) over the
// browser's one live connection; filtered by text and state, sorted by any column. The filter and the order are
// kept in the address (?q=…&state=…&sort=…), so a reload or a shared link shows the same rows.

import { stateOf } from './card.js'
import { el, getJson, setText } from './dom.js'
import { count, learnServerClock } from './format.js'
import { comparator, hasUsage, RunRow, tableHead } from './listTable.js'
import { showLive, subscribe } from './live.js'

/** Rows put in the page at once (more than a tall window shows); the rest follow, after it is painted, this many a frame. */
const FIRST_ROWS = 40
const ROWS_A_FRAME = 100

/** Calls `task` once the browser has painted what is in the page now (the frame after the next). */
const afterPaint = (task) => requestAnimationFrame(() => setTimeout(task, 0))

const STATES = ['running', 'stalled', 'not running', 'failed', 'interrupted', 'complete']

const main = document.getElementById('main')

export function listPage() {
  document.title = 'Runs — longhaul'
  const params = new URLSearchParams(location.search)
  const view = {
    text: params.get('q') ?? '',
    state: params.get('state') ?? '',
    sort: { key: params.get('sort') ?? '', descending: params.get('desc') === '1' },
  }
  /** Rows by run folder (a folder is unique; a copied run's id may not be). */
  const rows = new Map()
  let known = { epoch: '', version: -1 }

  const overview = el('p', { class: 'overview muted' })
  const search = el('input', {
    type: 'search',
    placeholder: 'Filter by job, folder or id',
    'aria-label': 'Filter runs by job, folder or id',
    value: view.text,
  })
  const stateFilter = el(
    'select',
    { 'aria-label': 'Show runs in this state' },
    el('option', { value: '' }, 'every state'),
    STATES.map((word) => el('option', { value: word }, word)),
  )
  stateFilter.value = view.state
  const head = tableHead(view.sort, (key) => {
    view.sort = view.sort.key === key ? { key, descending: !view.sort.descending } : { key, descending: false }
    head.showSort(view.sort)
    show()
  })
  const body = el('tbody', { role: 'rowgroup' })
  const table = el(
    'table',
    { role: 'table', class: 'runs-table' },
    el('caption', { class: 'sr-only' }, 'Runs'),
    head,
    body,
  )
  const shown = el('p', { class: 'muted shown', role: 'status' })
  const empty = el(
    'p',
    { class: 'card muted', hidden: true },
    'No runs under this folder yet. A run started with ',
    el('code', {}, 'longhaul run JOB --out DIR'),
    ' inside it shows here.',
  )
  main.replaceChildren(
    el('div', { class: 'heading' }, el('h1', {}, 'Runs'), overview),
    el('div', { class: 'filters' }, search, stateFilter, shown),
    empty,
    el('div', { class: 'table-wrap' }, table),
  )
  search.addEventListener('input', () => {
    view.text = search.value
    show()
  })
  stateFilter.addEventListener('change', () => {
    view.state = stateFilter.value
    show()
  })

  /**
   * Filters, orders and counts the rows; rows are moved only when out of place. A long list is put in the page a
   * screenful first, the rest a few hundred rows a frame after, so the first rows are painted at once.
   */
  let attached = FIRST_ROWS
  let more = 0
  const show = () => {
    const text = view.text.trim().toLowerCase()
    const order = comparator(view.sort)
    const ordered = [...rows.values()].sort((a, b) => order(a.run, b.run))
    let visible = 0
    let i = 0
    for (const row of ordered) {
      if (i >= attached) break
      const match =
        (!text || row.search.includes(text)) && (!view.state || stateOf(row.run).word.toLowerCase() === view.state)
      row.root.hidden = !match
      if (match) visible++
      if (body.children[i] !== row.root) body.insertBefore(row.root, body.children[i] ?? null)
      i++
    }
    if (attached < ordered.length && !more)
      more = afterPaint(() => {
        more = 0
        attached += ROWS_A_FRAME
        show()
      })
    const byState = new Map()
    for (const { run } of rows.values()) {
      const word = stateOf(run).word.toLowerCase()
      byState.set(word, (byState.get(word) ?? 0) + 1)
    }
    setText(
      overview,
      `${count(rows.size)} run${rows.size === 1 ? '' : 's'}${byState.size ? ' — ' : ''}${[...byState].map(([word, n]) => `${n} ${word}`).join(', ')}`,
    )
    if (attached >= ordered.length) setText(shown, visible === rows.size ? '' : `${count(visible)} shown`)
    // The Cost column only where some run reports usage.
    let usage = false
    for (const { run } of rows.values()) if ((usage ||= hasUsage(run))) break
    table.classList.toggle('with-usage', usage)
    empty.hidden = rows.size > 0
    table.hidden = rows.size === 0
    const address = new URLSearchParams()
    if (view.text) address.set('q', view.text)
    if (view.state) address.set('state', view.state)
    if (view.sort.key) address.set('sort', view.sort.key)
    if (view.sort.descending) address.set('desc', '1')
    const wanted = String(address) ? `?${address}` : location.pathname
    if (`${location.search || location.pathname}` !== wanted) history.replaceState(null, '', wanted)
  }

  const apply = ({ upserts = [], removed = [] }) => {
    for (const run of upserts) {
      learnServerClock(run)
      const row = rows.get(run.dir)
      if (row) row.update(run)
      else rows.set(run.dir, new RunRow(run))
    }
    for (const gone of removed) {
      // A folder that now holds another run has had its new run upserted already: only the old one goes.
      if (rows.get(gone.dir)?.run.id !== gone.id) continue
      rows.get(gone.dir).detach()
      rows.delete(gone.dir)
    }
  }
  const load = async () => {
    const answer = await getJson('/api/runs')
    for (const row of rows.values()) row.detach()
    rows.clear()
    apply({ upserts: answer.runs })
    known = { epoch: answer.epoch, version: answer.version }
  }
  /** Changes missed (the stream reopened after others happened): asked for as a diff, the whole list if too many. */
  const catchUp = async () => {
    const answer = await getJson(`/api/changes?list=1&since=${known.version}&epoch=${known.epoch}`)
    if (answer.reset) return load()
    apply(answer)
    known.version = answer.version
  }

  // Messages are handled one at a time, in order, each after the list has been fetched.
  let queue = Promise.resolve()
  const inTurn = (task) => {
    queue = queue
      .then(task)
      .catch((error) =>
        showLive({ type: 'connection', status: 'offline', text: `cannot read the list (${error.message}); retrying` }),
      )
  }
  inTurn(async () => {
    await load()
    main.setAttribute('aria-busy', 'false')
    show()
  })
  // Live updates once the first rows are painted (the shared worker's start is not in their way): the stream's
  // hello then says whether anything changed since the list was fetched.
  const handle = async (message) => {
    if (message.type === 'hello') {
      if (message.epoch !== known.epoch) await load()
      else if (message.version > known.version) await catchUp()
    } else if (message.type === 'runs') {
      // A diff applies to the version it follows (the stream's come one version apart; a polled one says which):
      // one that does not follow ours means changes were missed, which are asked for.
      const follows = message.since ?? message.version - 1
      if (message.epoch !== known.epoch) await load()
      else if (message.version <= known.version) return
      else if (follows !== known.version) await catchUp()
      else {
        apply(message)
        known.version = message.version
      }
    } else return
    show()
  }
  queue.then(() =>
    afterPaint(() =>
      subscribe({ list: true }, (message) => {
        showLive(message)
        inTurn(() => handle(message))
      }),
    ),
  )
  setInterval(() => rows.forEach((row) => row.tick()), 1_000)
}
