// The list of runs: `/`.

import { RunCard, stateOf } from './card.js'
import { el, getJson, setText, showConnection } from './dom.js'
import { clockTime, count, learnServerClock } from './format.js'

const LIST_REFRESH_MS = 2_000

const main = document.getElementById('main')

/** Live runs first (by folder, so they hold still), then the rest, most recently updated first. */
function byInterest(a, b) {
  const liveA = a.live || a.ownerGone ? 0 : 1
  const liveB = b.live || b.ownerGone ? 0 : 1
  if (liveA !== liveB) return liveA - liveB
  if (liveA === 0) return a.dir.localeCompare(b.dir)
  return b.snapshot.updatedAt.localeCompare(a.snapshot.updatedAt)
}

export function listPage() {
  document.title = 'Runs — longhaul'
  const cards = new Map()
  const overview = el('p', { class: 'overview muted' })
  const list = el('div', { class: 'runs' })
  const empty = el(
    'p',
    { class: 'card muted', hidden: true },
    'No runs under this folder yet. A run started with ',
    el('code', {}, 'longhaul run JOB --out DIR'),
    ' inside it shows here.',
  )
  main.replaceChildren(el('div', { class: 'heading' }, el('h1', {}, 'Runs'), overview), empty, list)

  const refresh = async () => {
    try {
      const { runs } = await getJson('/api/runs')
      runs.forEach(learnServerClock)
      const seen = new Set()
      ;[...runs].sort(byInterest).forEach((run, i) => {
        // By folder: two folders may hold the same run (a copy), and each has its card.
        seen.add(run.dir)
        let card = cards.get(run.dir)
        if (card) card.update(run)
        else cards.set(run.dir, (card = new RunCard(run, { linked: true })))
        // Moved only when out of place: a moved card would lose its bar's animation.
        if (list.children[i] !== card.root) list.insertBefore(card.root, list.children[i] ?? null)
      })
      for (const [dir, card] of cards) {
        if (seen.has(dir)) continue
        card.root.remove()
        cards.delete(dir)
      }
      empty.hidden = runs.length > 0
      const byState = new Map()
      for (const run of runs)
        byState.set(stateOf(run).word.toLowerCase(), (byState.get(stateOf(run).word.toLowerCase()) ?? 0) + 1)
      setText(
        overview,
        `${count(runs.length)} run${runs.length === 1 ? '' : 's'}${byState.size ? ' — ' : ''}${[...byState].map(([word, n]) => `${n} ${word}`).join(', ')}`,
      )
      main.setAttribute('aria-busy', 'false')
      showConnection('live', `updated ${clockTime(Date.now())}`)
    } catch (error) {
      showConnection('offline', `cannot reach the server (${error.message}); retrying`)
    } finally {
      setTimeout(refresh, LIST_REFRESH_MS)
    }
  }
  refresh()
  setInterval(() => cards.forEach((card) => card.render()), 1_000)
}
