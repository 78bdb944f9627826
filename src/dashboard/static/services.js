// What a run spends on the services its items call: items in flight, time waiting on the rate limit, usage and cost.

import { el, setText } from './dom.js'
import { count, duration } from './format.js'
import { amount } from './runWords.js'

/** `tokens 812,000 · usd $1.20`: every counter, money last. */
export function usageText(usage, per = '') {
  const units = Object.keys(usage ?? {}).sort((a, b) => (a === 'usd') - (b === 'usd') || a.localeCompare(b))
  return units.length ? units.map((u) => `${u} ${amount(u, usage[u])}${per}`).join(' · ') : null
}

const FACTS = [
  ['concurrency', 'In flight at once'],
  ['limit', 'Rate limit'],
  ['waiting', 'Waiting on the limit'],
  ['limited', 'Answered "rate limited"'],
  ['usage', 'Used (committed items)'],
  ['perItem', 'Per item'],
  ['perHour', 'Per hour (this session)'],
  ['cost', 'Cost so far'],
  ['projected', 'Cost of the rest (at the mean per item)'],
  ['failed', 'Used by failed attempts (paid, not in the totals)'],
]

/** The run's services section: kept up to date from each live status. */
export class ServicesSection {
  constructor() {
    this.facts = {}
    this.empty = el('p', { class: 'muted' }, 'This run reports no usage and has no rate limit.')
    const rows = FACTS.map(([key, label]) => {
      this.facts[key] = el('dd')
      return el('div', { 'data-fact': key }, el('dt', {}, label), this.facts[key])
    })
    this.root = el(
      'section',
      { class: 'card services', 'aria-labelledby': 'services-title' },
      el('h2', { id: 'services-title' }, 'Services'),
      this.empty,
      el('dl', { class: 'facts' }, rows),
    )
  }

  update(run) {
    const s = run.snapshot
    const limit = s.rateLimit
    const usage = s.usage
    const inFlight = s.concurrency ?? s.workers
    const slots = s.concurrency ? `${count(s.concurrency)} items over ${count(s.workers)} worker threads` : null
    this.fact('concurrency', slots)
    this.fact('limit', limit ? (limit.limit ?? 'none set (the service said "rate limited")') : null)
    if (limit) {
      // Summed over the items waiting at once: as a share of the time the run's in-flight slots had.
      const slotSeconds = s.elapsedSeconds * Math.max(1, inFlight ?? 1)
      const share =
        slotSeconds > 0
          ? ` (${Math.min(100, (100 * limit.waitingSeconds) / slotSeconds).toFixed(0)}% of the items' time)`
          : ''
      this.fact('waiting', `${duration(limit.waitingSeconds)} over items, this session${share}`)
      this.fact('limited', `${count(limit.rateLimitedAnswers)} answer${limit.rateLimitedAnswers === 1 ? '' : 's'}`)
    } else {
      this.fact('waiting', null)
      this.fact('limited', null)
    }
    this.fact('usage', usageText(usage))
    this.fact('perItem', usageText(s.usagePerItem))
    const perHour = s.usagePerSecond
      ? Object.fromEntries(Object.entries(s.usagePerSecond).map(([u, n]) => [u, n * 3600]))
      : null
    this.fact('perHour', usageText(perHour, '/h'))
    this.fact('cost', usage?.usd !== undefined ? amount('usd', usage.usd) : null)
    const left = s.total !== null && s.total !== undefined ? Math.max(0, s.total - s.done) : null
    const perItem = s.usagePerItem?.usd
    this.fact(
      'projected',
      perItem !== undefined && left !== null && left > 0
        ? `${amount('usd', perItem * left)} for ${count(left)} more items (${amount('usd', perItem * s.total)} in all)`
        : null,
    )
    this.fact('failed', usageText(s.usageOnFailedAttempts))
    const shown = Object.values(this.facts).some((dd) => !dd.parentElement.hidden)
    this.empty.hidden = shown
    this.root.querySelector('dl').hidden = !shown
  }

  fact(key, text) {
    const dd = this.facts[key]
    dd.parentElement.hidden = text === null || text === undefined
    if (text !== null && text !== undefined) setText(dd, text)
  }
}
