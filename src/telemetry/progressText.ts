import type { LaunchClearance, ProgressSnapshot, RateLimitShown } from './snapshot.ts'

/** PROGRESS.txt: the state in capitals on line 1, then one fact a line. */
export function progressText(p: ProgressSnapshot, now: number): string {
  const lines = [
    p.state.toUpperCase() +
      (p.state === 'stalled' && p.stalledForSeconds !== null
        ? ` — nothing finished for ${duration(p.stalledForSeconds)}`
        : ''),
    `Job:             ${p.job} (run ${p.runId})`,
    `Completed:       ${doneText(p)}${p.inFlight > 0 ? `, ${count(p.inFlight)} more finished, not yet committed` : ''}`,
    `Rate:            ${p.itemsPerSecond === null ? 'unknown' : `${rate(p.itemsPerSecond)} ${p.unit ?? 'items'}/s`}`,
    `ETA:             ${etaText(p)}`,
    `Elapsed:         ${duration(p.elapsedSeconds)}`,
    `Last checkpoint: ${p.lastCheckpointAt === null ? 'none yet' : `${p.lastCheckpointAt} (${ago(p.lastCheckpointAt, now)})`}, ${count(p.checkpoints)} this session`,
    `Heartbeat:       ${p.heartbeatAt} (${ago(p.heartbeatAt, now)})`,
    `Workers:         ${p.workers}${p.concurrency !== undefined ? `, up to ${count(p.concurrency)} items in flight` : ''} (pid ${p.owner.pid} on ${p.owner.host})`,
    ...(p.rateLimit ? [`Rate limit:      ${rateLimitText(p.rateLimit)}`] : []),
    ...(p.usage ? [`Usage:           ${usageLine(p)}`] : []),
    ...(p.gate ? [`Launch gate:     ${gateText(p.gate)}`] : []),
    ...(p.error ? [`Error:           ${p.error}`] : []),
    `Updated:         ${p.updatedAt}`,
  ]
  return `${lines.join('\n')}\n`
}

/** `1,200 / 3,000 (40.0%)`, or `1,200 epochs (total unknown)`; `separator` '/' for the compact form of log lines. */
export function doneText(p: Pick<ProgressSnapshot, 'done' | 'total' | 'percent' | 'unit'>, separator = ' / '): string {
  const unit = p.unit ? ` ${p.unit}` : ''
  if (p.total === null) return `${count(p.done)}${unit} (total unknown)`
  return `${count(p.done)}${separator}${count(p.total)}${unit} (${(p.percent ?? 0).toFixed(1)}%)`
}

/** `600 requests/min; items waited 1m12s on it, 3 answers said rate limited`. */
export function rateLimitText(r: RateLimitShown): string {
  const answers = r.rateLimitedAnswers ? `, ${count(r.rateLimitedAnswers)} answer(s) said rate limited` : ''
  return `${r.limit ?? 'none set'}; items waited ${duration(r.waitingSeconds)} on it${answers}`
}

/** `81,200 tokens, $0.12 (812 tokens, $0.0012 an item; 40.6 tokens, $0.06 a second); $0.01 more on failed attempts`. */
export function usageLine(
  p: Pick<ProgressSnapshot, 'usage' | 'usagePerItem' | 'usagePerSecond' | 'usageOnFailedAttempts'>,
): string {
  const rates = [
    ...(p.usagePerItem ? [`${usageText(p.usagePerItem)} an item`] : []),
    ...(p.usagePerSecond ? [`${usageText(p.usagePerSecond)} a second`] : []),
  ]
  const failed = p.usageOnFailedAttempts ? `; ${usageText(p.usageOnFailedAttempts)} more on failed attempts` : ''
  return `${usageText(p.usage ?? {})}${rates.length ? ` (${rates.join('; ')})` : ''}${failed}`
}

/** `81,200 tokens, $0.12`: `usd` as dollars, the other counters by name. */
export function usageText(usage: Readonly<Record<string, number>>): string {
  const parts = Object.entries(usage).map(([unit, n]) => (unit === 'usd' ? dollars(n) : `${amount(n)} ${unit}`))
  return parts.length ? parts.join(', ') : 'nothing'
}

/** $1,234.56; below a dollar, two significant digits ($0.0012). */
export function dollars(n: number): string {
  if (n >= 1) return `$${n.toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 })}`
  return n === 0 ? '$0' : `$${Number(n.toPrecision(2))}`
}

function amount(n: number): string {
  if (Number.isInteger(n) || n >= 100) return count(Math.round(n))
  return String(Number(n.toPrecision(3)))
}

/** The gate's decision in words; a waiver is spelled out so nobody mistakes the run for a proved one. */
export function gateText(gate: LaunchClearance): string {
  switch (gate.status) {
    case 'proved':
      return `proved by ${gate.proof} (target ${count(gate.target)}, valid until ${gate.expiresAt})`
    case 'waived':
      return `WAIVED — running without a passing preflight proof (${gate.reason})`
    case 'not-required':
      return `no proof needed (at most ${count(gate.limit)} items under ${gate.policy})`
  }
}

export function etaText(
  p: Pick<ProgressSnapshot, 'state' | 'etaSeconds' | 'etaLow' | 'etaHigh' | 'etaUnknownBecause'>,
): string {
  if (p.state === 'complete') return 'done'
  if (p.state !== 'running' && p.state !== 'stalled') return '—'
  if (p.etaSeconds === null) return `unknown (${p.etaUnknownBecause ?? 'not enough data yet'})`
  const range = p.etaLow !== null && p.etaHigh !== null ? ` (${duration(p.etaLow)} – ${duration(p.etaHigh)})` : ''
  return `${duration(p.etaSeconds)}${range}`
}

/**
 * 1,234,567: what `toLocaleString('en-US')` gives, but a whole number is grouped by hand, since the first call into
 * Intl loads its locale data: tens of milliseconds of every run's start-up, for its first progress line.
 */
export function count(n: number): string {
  return Number.isSafeInteger(n) && !Object.is(n, -0)
    ? String(n).replace(/\B(?=(\d{3})+$)/g, ',')
    : n.toLocaleString('en-US')
}

export function rate(perSecond: number): string {
  return perSecond >= 100 ? count(Math.round(perSecond)) : perSecond.toFixed(1)
}

/** 512 B, 1.5 KiB, 3.2 GiB. */
export function bytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB']
  let value = n
  let unit = 0
  while (Math.abs(value) >= 1024 && unit < units.length - 1) {
    value /= 1024
    unit++
  }
  return `${unit === 0 ? Math.round(value) : value.toFixed(1)} ${units[unit]}`
}

/** 42s, 3m07s, 2h05m, 3d04h. */
export function duration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds))
  if (s < 60) return `${s}s`
  const m = Math.floor(s / 60)
  if (m < 60) return `${m}m${String(s % 60).padStart(2, '0')}s`
  const h = Math.floor(m / 60)
  if (h < 48) return `${h}h${String(m % 60).padStart(2, '0')}m`
  return `${Math.floor(h / 24)}d${String(h % 24).padStart(2, '0')}h`
}

export function ago(iso: string, now: number): string {
  return `${duration((now - Date.parse(iso)) / 1000)} ago`
}
