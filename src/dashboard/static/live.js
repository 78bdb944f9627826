// Live updates: one connection per browser, shared by its tabs (liveWorker.js); where a browser has no shared
// workers (Chrome on Android), the page asks /api/changes every few seconds instead of holding a connection.
//
// A subscriber gets { type: 'hello', epoch, version } when the stream (re)opens, { type: 'runs', epoch, version,
// upserts, removed } for each change it follows, and { type: 'connection', status, text } for the header's note.

import { el, setText, showConnection } from './dom.js'
import { clockTime } from './format.js'

const POLL_MS = 2_000

/** Follows every run (`list`) and/or the runs `runs` names; `onMessage` gets each message. */
export function subscribe({ list = false, runs = [] }, onMessage) {
  if (typeof SharedWorker === 'function') return throughWorker({ list, runs }, onMessage)
  return byPolling({ list, runs }, onMessage)
}

function throughWorker(interest, onMessage) {
  let worker
  try {
    worker = new SharedWorker('/static/liveWorker.js', { name: 'longhaul-live' })
  } catch {
    return byPolling(interest, onMessage)
  }
  const port = worker.port
  port.addEventListener('message', (message) => onMessage(message.data))
  port.start()
  const tab = crypto.randomUUID()
  const join = () => port.postMessage({ type: 'subscribe', tab, ...interest })
  // A lock held for the tab's life: released when it closes or crashes, which tells the worker it has gone.
  if (navigator.locks) {
    navigator.locks.request(`longhaul-tab-${tab}`, () => {
      join()
      return new Promise(() => undefined)
    })
  } else {
    join()
  }
  addEventListener('pagehide', () => port.postMessage({ type: 'unsubscribe' }))
  addEventListener('pageshow', (event) => event.persisted && join())
}

function byPolling({ list, runs }, onMessage) {
  let epoch = ''
  let version = -1
  const base = new URLSearchParams()
  if (list) base.set('list', '1')
  if (runs.length > 0) base.set('runs', runs.join(','))
  const poll = async () => {
    try {
      const params = new URLSearchParams(base)
      params.set('since', String(version))
      params.set('epoch', epoch)
      const response = await fetch(`/api/changes?${params}`, { credentials: 'same-origin' })
      if (response.status === 401) {
        onMessage({ type: 'connection', status: 'unauthorized', text: (await response.text()).trim() })
        return
      }
      if (!response.ok) throw new Error(`/api/changes answered HTTP ${response.status}`)
      const answer = await response.json()
      if (answer.reset || answer.epoch !== epoch) {
        epoch = answer.epoch
        onMessage({ type: 'hello', epoch: answer.epoch, version: answer.version })
      }
      if (answer.upserts?.length || answer.removed?.length)
        onMessage({ type: 'runs', upserts: [], removed: [], ...answer, since: answer.reset ? undefined : version })
      version = answer.version
      onMessage({ type: 'connection', status: 'live', text: 'live' })
    } catch (error) {
      onMessage({ type: 'connection', status: 'offline', text: `cannot reach the server (${error.message}); retrying` })
    } finally {
      setTimeout(poll, POLL_MS)
    }
  }
  poll()
}

/** The header's note for a connection message. */
export function showLive(message) {
  if (message.type !== 'connection') return
  const refused = message.status === 'unauthorized'
  showRefusal(refused ? message.text : '')
  showConnection(
    message.status,
    message.status === 'live'
      ? `live · updated ${clockTime(Date.now())}`
      : refused
        ? 'not updated: the server no longer accepts this page’s token'
        : message.text,
  )
}

let refusal = null
/**
 * The server's own 401 words at the top of the page, while the live updates are refused for the token (the server
 * restarted with another, or another dashboard took this port): what is shown is how things stood before.
 */
function showRefusal(text) {
  if (!text) {
    if (refusal) refusal.hidden = true
    return
  }
  if (!refusal) {
    refusal = el('p', { class: 'card refusal', role: 'alert', 'data-refused': 'token' })
    document.querySelector('header')?.after(refusal)
  }
  setText(refusal, `${text} What is shown below is how things stood before.`)
  refusal.hidden = false
}

/**
 * Follows one run: `onStatus` gets each new status of it, `onGone` is told once its folder no longer holds it
 * (deleted, moved, or holding another run), with why. `dir` names the run's folder: several may hold one run (copies).
 * `onOpen` is called each time the live updates (re)start: what happened before is not in them.
 */
export function follow(id, onStatus, { dir, onGone = () => undefined, onOpen = () => undefined } = {}) {
  const ours = (run) => run.id === id && (dir === undefined || run.dir === dir)
  subscribe({ runs: [id] }, (message) => {
    showLive(message)
    // The stream tells what changes after it (re)opened: what changed before that is the page's to ask for.
    if (message.type === 'hello') onOpen()
    if (message.type !== 'runs') return
    if (message.upserts.length > 0) showConnection('live', `live · updated ${clockTime(Date.now())}`)
    for (const item of message.upserts) if (ours(item)) onStatus(item)
    const gone = message.removed.find(ours)
    if (gone) onGone({ because: gone.because ?? 'the run is gone: its folder no longer holds it' })
  })
}
