// ONE live connection for every tab of this dashboard in this browser (a SharedWorker: one per origin).
//
// A browser allows six connections to a host: a stream per tab froze the seventh tab and the list. Here each tab
// says what it follows (the list: every run; a run page: its run), the worker holds a single EventSource on
// /api/live for the union of it, and hands each tab the part of every diff it follows. The stream is reopened when
// what is followed changes, closed when no tab follows anything (a finished run's page follows nothing), and
// reopened after a server restart or a refusal. A tab that goes away is noticed by its Web Lock being released.

/** @type {Map<MessagePort, { list: boolean, runs: Set<string> }>} */
const tabs = new Map()
let source = null
let openUrl = ''
let retry = null
let reconcileSoon = null
let hello = null
let connection = { type: 'connection', status: 'offline', text: 'connecting…' }

self.addEventListener('connect', (event) => {
  const port = event.ports[0]
  port.addEventListener('message', (message) => receive(port, message.data))
  port.start()
})

function receive(port, message) {
  if (message?.type === 'subscribe') {
    tabs.set(port, { list: message.list === true, runs: new Set(message.runs ?? []) })
    // The tab holds a lock of its own as long as it lives; it is ours when the tab closes or crashes.
    if (message.tab && self.navigator?.locks)
      self.navigator.locks.request(`longhaul-tab-${message.tab}`, () => drop(port)).catch(() => undefined)
    port.postMessage(connection)
    if (hello && source?.readyState === EventSource.OPEN) port.postMessage(hello)
    schedule()
  } else if (message?.type === 'unsubscribe') {
    drop(port)
  }
}

function drop(port) {
  if (tabs.delete(port)) schedule()
}

/** Subscriptions arrive together when several tabs open at once: the stream is reopened once for all of them. */
function schedule() {
  clearTimeout(reconcileSoon)
  reconcileSoon = setTimeout(reconcile, 40)
}

function wantedUrl() {
  let list = false
  const runs = new Set()
  for (const tab of tabs.values()) {
    list ||= tab.list
    for (const id of tab.runs) runs.add(id)
  }
  if (!list && runs.size === 0) return ''
  const params = new URLSearchParams()
  if (list) params.set('list', '1')
  if (runs.size > 0) params.set('runs', [...runs].sort().join(','))
  return `/api/live?${params}`
}

function reconcile() {
  const url = wantedUrl()
  if (url === openUrl && (source || retry)) return
  close()
  openUrl = url
  if (url) open()
}

function close() {
  source?.close()
  source = null
  clearTimeout(retry)
  retry = null
  hello = null
}

function open() {
  const current = new EventSource(openUrl)
  source = current
  current.addEventListener('hello', (message) => {
    hello = { type: 'hello', ...JSON.parse(message.data) }
    announce('live', 'live')
    for (const port of tabs.keys()) port.postMessage(hello)
  })
  current.addEventListener('runs', (message) => {
    const change = JSON.parse(message.data)
    for (const [port, tab] of tabs) {
      if (tab.list) {
        port.postMessage({ type: 'runs', ...change })
        continue
      }
      const upserts = change.upserts.filter((item) => tab.runs.has(item.id))
      const removed = change.removed.filter((gone) => tab.runs.has(gone.id))
      if (upserts.length > 0 || removed.length > 0) port.postMessage({ type: 'runs', ...change, upserts, removed })
    }
  })
  current.addEventListener('error', () => {
    if (current !== source) return
    if (current.readyState === EventSource.CLOSED) {
      // Refused (a restarting server's 503, a token gone): EventSource gives up, without saying why; the server is
      // asked why, so that a token no longer accepted is told to the tabs (not a page silently stuck), and this
      // tries again (the tabs' cookie is renewed by opening the URL with ?token=).
      source = null
      refused().then((because) => {
        if (source !== null) return
        if (because) announce('unauthorized', because)
        else announce('offline', 'live updates refused by the server; retrying in 5s')
      })
      retry = setTimeout(() => {
        retry = null
        if (openUrl) open()
      }, 5_000)
    } else {
      announce('offline', 'connection lost; reconnecting…')
    }
  })
}

/** Why the server refused the stream, when it is its token: the 401's own words; '' otherwise. */
async function refused() {
  try {
    const response = await fetch('/api/changes?since=-1', { credentials: 'same-origin' })
    return response.status === 401 ? (await response.text()).trim() : ''
  } catch {
    return ''
  }
}

function announce(status, text) {
  connection = { type: 'connection', status, text }
  for (const port of tabs.keys()) port.postMessage(connection)
}
