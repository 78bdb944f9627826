// Numbers and times, formatted as the CLI formats them, and the server's clock as this page knows it.

const numbers = new Intl.NumberFormat('en-US')
export const count = (n) => numbers.format(Number(n ?? 0))
export const rate = (perSecond) =>
  perSecond === null || perSecond === undefined
    ? 'unknown'
    : perSecond >= 100
      ? count(Math.round(perSecond))
      : perSecond.toFixed(1)
export const percentOf = (done, total) => (total > 0 ? (100 * done) / total : 0)
/** A supervised program may not say how much there is (total null), and may count in its own unit. */
export const unitOf = (s) => s.unit ?? 'items'

/** 42s, 3m07s, 2h05m, 3d04h. */
export function duration(seconds) {
  const s = Math.max(0, Math.round(seconds))
  if (s < 60) return `${s}s`
  const m = Math.floor(s / 60)
  if (m < 60) return `${m}m${String(s % 60).padStart(2, '0')}s`
  const h = Math.floor(m / 60)
  if (h < 48) return `${h}h${String(m % 60).padStart(2, '0')}m`
  return `${Math.floor(h / 24)}d${String(h % 24).padStart(2, '0')}h`
}

/** 1.2k, 3.4M: for chart axes, where room is short. */
export function compact(n) {
  const abs = Math.abs(n)
  if (abs >= 1e9) return `${+(n / 1e9).toFixed(1)}G`
  if (abs >= 1e6) return `${+(n / 1e6).toFixed(1)}M`
  if (abs >= 1e4) return `${+(n / 1e3).toFixed(1)}k`
  return count(Math.round(n * 10) / 10)
}

/** A moment in the browser's local time; with the date when it is not today. */
export function clockTime(ms) {
  const date = new Date(ms)
  const time = date.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit' })
  return date.toDateString() === new Date().toDateString() ? time : `${date.toLocaleDateString()} ${time}`
}

/**
 * The server's clock, as best this page knows it. Ages ("12s ago") are
 * measured on the server's clock, since the browser (a laptop) and the run
 * (a VM) often disagree by seconds or more. Every status carries the
 * heartbeat's time and its age as the server measured it: their sum is the
 * server's "now" when it answered.
 */
let clockOffsetMs = 0
export function learnServerClock(run) {
  const heartbeat = Date.parse(run.snapshot.heartbeatAt)
  // A status read from the journal alone (no progress.json) carries no heartbeat age.
  if (run.snapshot.owner?.pid && Number.isFinite(heartbeat))
    clockOffsetMs = heartbeat + run.heartbeatAgeSeconds * 1000 - Date.now()
}
export const serverNow = () => Date.now() + clockOffsetMs
export const secondsSince = (iso) => (serverNow() - Date.parse(iso)) / 1000

export const baseName = (path) => String(path).split(/[\\/]/).pop()

/** Where and how a session was started: shown under Identity, too long for a line of events. */
const IDENTITY = new Set(['host', 'version', 'cwd', 'argv'])

/** An event's detail in one line: `committed 0 · total 3,000 · workers 1`. */
export function describe(detail) {
  return Object.entries(detail ?? {})
    .filter(([key]) => !IDENTITY.has(key))
    .map(([key, value]) => {
      if (typeof value === 'number' && /Seconds$/.test(key)) return `${key} ${duration(value)}`
      if (typeof value === 'number' && !/pid|seed|port/i.test(key)) return `${key} ${count(value)}`
      if (value !== null && typeof value === 'object') return `${key} ${JSON.stringify(value)}`
      return `${key} ${value}`
    })
    .join(' · ')
}
