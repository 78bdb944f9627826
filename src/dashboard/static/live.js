// Live updates over server-sent events.

import { showConnection } from './dom.js'
import { clockTime } from './format.js'

/** Follows a run's status over server-sent events; EventSource reconnects by itself, and this reopens it when the server refused. */
export function follow(id, onStatus) {
  const open = () => {
    const source = new EventSource(`/api/runs/${encodeURIComponent(id)}/events`)
    source.addEventListener('status', (message) => {
      showConnection('live', `live · updated ${clockTime(Date.now())}`)
      onStatus(JSON.parse(message.data))
    })
    source.addEventListener('error', () => {
      if (source.readyState === EventSource.CLOSED) {
        showConnection('offline', 'live updates refused by the server; retrying in 5s')
        setTimeout(open, 5_000)
      } else {
        showConnection('offline', 'connection lost; reconnecting…')
      }
    })
  }
  open()
}
