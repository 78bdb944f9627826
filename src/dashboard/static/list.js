// The list of runs: `/`. Fetched once, then kept up to date by diffs (only the runs that changed) over the
// browser's one live connection; filtered by text and state, sorted by any column. The filter and the order are
// kept in the address (?q=…&state=…&sort=…), so a reload or a shared link shows the same rows.

import { getJson, setAttr, setText } from './dom.js'
import { learnServerClock } from './format.js'
import { build, RunRow } from './listTable.js'
import { showLive, subscribe } from './live.js'
import { ariaSort, comparator, hasUsage, listFrame, matches, overviewText, shownText, viewOf } from './runRow.js'

/** Rows put in the table at once when the list has been read: more than a tall window shows (table.css). */
const ROWS_FIRST = 40
/** Rows added a frame, after those have been painted. */
const ROWS_A_FRAME = 100

/** Calls `task` once the browser has painted what is in the page now (the frame after the next). */
const afterPaint = (task) => requestAnimationFrame(() => setTimeout(task, 0))

const main = document.getElementById('main')

export function listPage() {
  document.title = 'Runs — longhaul'
  const view = viewOf(new URLSearchParams(location.search))
  /** Rows by run folder (a folder is unique; a copied run's id may not be). */
  const rows = new Map()
  let known = { epoch: '', version: -1 }

  // The server wrote the list's frame and its first rows into the page (listHtml.ts), painted before this script
  // ran: they are taken over as they are, the rows once the list is read. Made here only if the page has none.
  if (!main.querySelector('.runs-table')) main.replaceChildren(...listFrame(view, null, []).map(build))
  const find = (selector) => main.querySelector(selector)
  const overview = find('.overview')
  const search = find('.filters input')
  const stateFilter = find('.filters select')
  const shown = find('.filters .shown')
  const empty = find('p.card')
  const table = find('.runs-table')
  const body = table.tBodies[0]
  // What was typed or chosen before the script ran counts.
  view.text = search.value
  view.state = stateFilter.value
  const showSort = () => {
    for (const th of table.tHead.querySelectorAll('th[data-col]'))
      setAttr(th, 'aria-sort', ariaSort(th.dataset.col, view.sort))
  }
  for (const button of table.tHead.querySelectorAll('button[data-sort]'))
    button.addEventListener('click', () => {
      const key = button.dataset.sort
      view.sort = view.sort.key === key ? { key, descending: !view.sort.descending } : { key, descending: false }
      showSort()
      show()
    })
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
   * screenful first, the rest a hundred rows a frame after, so the first rows are painted at once.
   */
  let attached = ROWS_FIRST
  let more = 0
  const show = () => {
    // Until the list is read, the rows in the page are the server's, in its order: a sort or a filter asked for
    // meanwhile is applied once the list is there.
    if (known.version < 0) return
    const order = comparator(view.sort)
    const ordered = [...rows.values()].sort((a, b) => order(a.run, b.run))
    let visible = 0
    let i = 0
    for (const row of ordered) {
      if (i >= attached) break
      const match = matches(row.search, row.run, view)
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
    const runs = [...rows.values()].map((row) => row.run)
    setText(overview, overviewText(runs))
    if (attached >= ordered.length) setText(shown, shownText(visible, rows.size))
    // The Cost column only where some run reports usage.
    table.classList.toggle('with-usage', runs.some(hasUsage))
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
    rows.clear()
    apply({ upserts: answer.runs })
    // The rows in the page (the server's first ones, or an earlier reading's) are kept for the runs still listed,
    // brought up to date where they differ: no row is drawn twice, nor the table emptied in between.
    for (const tr of [...body.rows]) {
      const row = rows.get(tr.dataset.dir)
      if (row && !row.tr && row.run.id === tr.dataset.run) row.adopt(tr)
      else tr.remove()
    }
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
