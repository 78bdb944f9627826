// Items per second over time.

import { el, setText } from './dom.js'
import { clockTime, compact, count, rate } from './format.js'

/** The server keeps a run's newest 2,000 commits. */
const MAX_CHECKPOINTS = 2_000

/**
 * Items committed over time, from the commits: one point per commit, with
 * the running total of items. The server keeps the newest commits only; the
 * running total then starts from what the older ones had committed.
 */
export function commitPoints(d) {
  const commits = d.checkpoints
  if (!commits.length) return []
  const sum = commits.reduce((n, c) => n + (c.end - c.start), 0)
  let committed = commits.length >= MAX_CHECKPOINTS ? Math.max(0, d.snapshot.done - sum) : 0
  const points = []
  const started = d.events.find((e) => e.type === 'started')
  if (committed === 0 && started && started.at <= commits[0].at) points.push({ t: started.at, committed: 0 })
  for (const c of commits) {
    committed += c.end - c.start
    points.push({ t: c.at, committed })
  }
  return points
}

/**
 * The chart's columns: time (s), items/s over each interval, items committed.
 * Commits closer together than a slice of the whole span are merged, so a
 * burst of small commits does not draw a comb.
 */
function chartColumns(points) {
  const xs = []
  const rates = []
  const committed = []
  if (!points.length) return [xs, rates, committed]
  const minGapMs = Math.max(250, (points.at(-1).t - points[0].t) / 150)
  const anchors = [points[0]]
  xs.push(points[0].t / 1000)
  rates.push(null)
  committed.push(points[0].committed)
  const push = (p, from) => {
    anchors.push(p)
    xs.push(p.t / 1000)
    rates.push((p.committed - from.committed) / ((p.t - from.t) / 1000))
    committed.push(p.committed)
  }
  for (let i = 1; i < points.length; i++) {
    const p = points[i]
    const from = anchors.at(-1)
    if (p.t - from.t >= minGapMs) push(p, from)
    else if (i === points.length - 1 && p.t > from.t) {
      // The newest commit is always drawn: it joins the interval before it.
      if (anchors.length > 1) {
        anchors.pop()
        xs.pop()
        rates.pop()
        committed.pop()
      }
      push(p, anchors.at(-1))
    }
  }
  return [xs, rates, committed]
}

const cssVar = (name) => getComputedStyle(document.documentElement).getPropertyValue(name).trim()

export class ThroughputChart {
  constructor() {
    this.points = []
    this.total = 1
    this.plot = el('div', { class: 'chart' })
    this.note = el('p', { class: 'muted' })
    this.root = el(
      'section',
      { class: 'card', 'aria-labelledby': 'chart-title' },
      el('h2', { id: 'chart-title' }, 'Items per second'),
      el(
        'p',
        { class: 'hint muted' },
        'Per interval between commits; the dashed line is items committed (right axis).',
      ),
      this.note,
      this.plot,
    )
  }

  /** Creates the uPlot chart once the section is on the page (it needs a width), and again when the system's light or dark theme changes. */
  mount() {
    if (typeof uPlot !== 'function') {
      setText(this.note, 'The chart library did not load; the numbers above are live regardless.')
      return
    }
    this.create()
    new ResizeObserver(() => this.chart.setSize({ width: this.width(), height: 240 })).observe(this.root)
    matchMedia('(prefers-color-scheme: dark)').addEventListener('change', () => {
      this.chart.destroy()
      this.create()
    })
  }

  create() {
    const text = cssVar('--muted')
    const grid = cssVar('--line')
    const axis = (extra) => ({
      stroke: text,
      grid: { stroke: grid, width: 1 },
      ticks: { stroke: grid, width: 1 },
      font: '12px system-ui, sans-serif',
      ...extra,
    })
    this.chart = new uPlot(
      {
        width: this.width(),
        height: 240,
        cursor: { drag: { x: true, y: false } },
        scales: {
          x: { time: true },
          rate: { range: (_u, _min, max) => [0, max > 0 ? max * 1.15 : 1] },
          items: { range: () => [0, Math.max(1, this.total)] },
        },
        series: [
          { value: (_u, v) => (v === null ? '—' : clockTime(v * 1000)) },
          {
            label: 'items/s',
            scale: 'rate',
            stroke: cssVar('--running'),
            fill: cssVar('--running-fill'),
            width: 2,
            value: (_u, v) => (v === null ? '—' : rate(v)),
          },
          {
            label: 'committed',
            scale: 'items',
            stroke: text,
            width: 1.5,
            dash: [5, 5],
            value: (_u, v) => (v === null ? '—' : count(v)),
          },
        ],
        axes: [
          axis({}),
          axis({ scale: 'rate', size: 56, values: (_u, splits) => splits.map(compact) }),
          axis({
            scale: 'items',
            side: 1,
            size: 56,
            grid: { show: false },
            values: (_u, splits) => splits.map(compact),
          }),
        ],
      },
      chartColumns(this.points),
      this.plot,
    )
    this.draw()
  }

  width() {
    return Math.max(240, this.plot.clientWidth || this.root.clientWidth - 36)
  }

  reset(points, total) {
    this.points = points
    this.total = total
    this.draw()
  }

  /** A live commit: the run's committed count at the time of its newest commit. */
  add(t, committed, total) {
    const last = this.points.at(-1)
    this.total = total
    if (last && (t <= last.t || committed <= last.committed)) return
    this.points.push({ t, committed })
    this.draw()
  }

  draw() {
    const enough = this.points.length >= 2
    this.note.hidden = enough || !this.chart
    this.plot.hidden = !enough
    if (!enough) setText(this.note, 'The chart starts after the second commit.')
    this.chart?.setData(chartColumns(this.points))
  }
}
