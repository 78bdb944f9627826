// The run page's further sections: services, metrics, who is working, logs, identity and history. The services follow
// each live status; the rest is read from /api/runs/<id>/facts and /history when the run's history is.

import { el, getJson } from './dom.js'
import { HistorySection } from './history.js'
import { renderIdentity } from './identity.js'
import { LiveOutput } from './liveOutput.js'
import { renderLogs } from './logs.js'
import { MetricCharts } from './metricsChart.js'
import { ServicesSection } from './services.js'
import { renderWorkers } from './workers.js'

export class RunGains {
  constructor(run) {
    this.id = run.id
    this.run = run
    this.facts = null
    this.services = new ServicesSection()
    this.metrics = new MetricCharts()
    this.workers = el('section', { class: 'card', 'aria-labelledby': 'workers-title' })
    this.logs = el('section', { class: 'card', 'aria-labelledby': 'logs-title' })
    this.output = new LiveOutput(run)
    this.identity = el('section', { class: 'card', 'aria-labelledby': 'identity-title' })
    this.history = new HistorySection(run.id)
    this.services.update(run)
    this.shownLogs = ''
  }

  /** The sections, in page order: services follow the run's card, the rest its chart. */
  get top() {
    return [this.services.root]
  }
  get rest() {
    return [this.metrics.root, this.workers, this.output.root, this.logs, this.identity, this.history.root]
  }

  /** A live status. */
  update(run) {
    this.run = run
    this.services.update(run)
    this.output.follow(run)
    if (this.facts) renderWorkers(this.workers, this.facts, run)
  }

  /** Reads the facts and history again. */
  async refresh() {
    // By folder too: several folders may hold one run (copies).
    const base = `/api/runs/${encodeURIComponent(this.id)}`
    const where = `?dir=${encodeURIComponent(this.run.dir)}`
    const [facts, history] = await Promise.all([
      getJson(`${base}/facts${where}`).catch(() => undefined),
      getJson(`${base}/history${where}`).catch(() => undefined),
    ])
    if (facts) {
      this.facts = facts
      this.metrics.update(facts.metrics, facts.identity?.kind)
      renderWorkers(this.workers, facts, this.run)
      this.output.follow(this.run, facts.identity?.kind === 'exec')
      // Redrawn only when they changed, so an opened stack or a scrolled log stays as it is.
      const logs = JSON.stringify([facts.logs.at(-1), facts.logs.length, facts.failures])
      if (logs !== this.shownLogs) renderLogs(this.logs, facts)
      this.shownLogs = logs
      renderIdentity(this.identity, facts, this.run)
    }
    if (history) this.history.update(history)
  }
}
