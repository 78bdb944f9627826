// Live updates over server-sent events.

import { showConnection } from './dom.js'
import { clockTime } from './format.js'

/**
 * Follows a run's status over server-sent events; EventSource reconnects by itself, and this reopens it when the
 * server refused. `dir` names the run's folder when several hold it; `onGone` is told once the run's folder no
 * longer holds it, and following stops.
 */
export function follow(id, onStatus, { dir, onGone } = {}) {
  const query = dir === undefined ? '' : `?dir=${encodeURIComponent(dir)}`
  const open = () => {
    const source = new EventSource(`/api/runs/${encodeURIComponent(id)}/events${query}`)
    source.addEventListener('status', (message) => {
      showConnection('live', `live · updated ${clockTime(Date.now())}`)
      onStatus(JSON.parse(message.data))
    })
    source.addEventListener('gone', (message) => {
      source.close()
      onGone?.(JSON.parse(message.data))
    })
    source.addEventListener('error', () => {
      if (source.readyState === EventSource.CLOSED) {
        // Refused: a run whose folder no longer holds it is gone (410), not worth retrying.
        fetch(`/api/runs/${encodeURIComponent(id)}${query}`, { credentials: 'same-origin' })
          .then(async (response) => {
            if (response.status === 410 && onGone) onGone({ because: (await response.json()).error })
            else throw new Error(`HTTP ${response.status}`)
          })
          .catch(() => {
            showConnection('offline', 'live updates refused by the server; retrying in 5s')
            setTimeout(open, 5_000)
          })
      } else {
        showConnection('offline', 'connection lost; reconnecting…')
      }
    })
  }
  open()
}
