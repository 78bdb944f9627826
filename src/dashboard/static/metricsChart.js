// Charts of what a run reports besides its progress: a supervised program's metrics (loss, accuracy, …) and a loop's
// metrics at its checkpoints. Each smoothed, with the raw values drawn faintly beside it, against step or time.

import { el, setText } from './dom.js'
import { clockTime, compact, count } from './format.js'

/** A metric's value: four significant digits, without a trailing exponent for everyday numbers. */
export const metricValue = (v) =>
  v === null || v === undefined ? '—' : Math.abs(v) >= 1e4 ? compact(v) : String(Number(v.toPrecision(4)))

const cssVar = (name) => getComputedStyle(document.documentElement).getPropertyValue(name).trim()

/** An exponential moving average, debiased so it starts at the first value (as TensorBoard smooths). */
export function smooth(values, weight) {
  let last = 0
  let n = 0
  return values.map((v) => {
    last = last * weight + (1 - weight) * v
    n++
    return last / (1 - weight ** n)
  })
}

/**
 * A metric's columns against step (the newest value of each step, in step order: a program restarted from a checkpoint
 * reports some steps again) or against time (seconds).
 */
export function metricColumns(points, by, weight) {
  let xs
  let raw
  if (by === 'step') {
    const byStep = new Map()
    for (const p of points) byStep.set(p.step, p.value)
    const steps = [...byStep.keys()].sort((a, b) => a - b)
    xs = steps
    raw = steps.map((s) => byStep.get(s))
  } else {
    xs = points.map((p) => p.at / 1000)
    raw = points.map((p) => p.value)
  }
  return [xs, smooth(raw, weight), raw]
}

export class MetricCharts {
  constructor() {
    this.metrics = {}
    this.charts = new Map()
    this.by = 'step'
    this.weight = 0.6
    this.list = el('div', { class: 'metric-list' })
    this.note = el('p', { class: 'muted' })
    this.axis = el(
      'select',
      { 'aria-label': 'x axis' },
      el('option', { value: 'step' }, 'against step'),
      el('option', { value: 'time' }, 'against time'),
    )
    this.slider = el('input', {
      type: 'range',
      min: '0',
      max: '0.99',
      step: '0.01',
      value: String(this.weight),
      'aria-label': 'smoothing',
    })
    this.weightText = el('span', { class: 'num' })
    this.axis.addEventListener('change', () => {
      this.by = this.axis.value
      this.rebuild()
    })
    this.slider.addEventListener('input', () => {
      this.weight = Number(this.slider.value)
      this.draw()
    })
    this.controls = el(
      'div',
      { class: 'metric-controls' },
      el('label', {}, 'X axis ', this.axis),
      el('label', {}, 'Smoothing ', this.slider, ' ', this.weightText),
    )
    this.root = el(
      'section',
      { class: 'card', 'aria-labelledby': 'metrics-title' },
      el('h2', { id: 'metrics-title' }, 'Metrics'),
      el(
        'p',
        { class: 'hint muted' },
        'The solid line is smoothed (moving average); the faint one is each value as reported.',
      ),
      this.controls,
      this.note,
      this.list,
    )
    matchMedia('(prefers-color-scheme: dark)').addEventListener('change', () => this.rebuild())
    new ResizeObserver(() => {
      for (const c of this.charts.values()) c.plot?.setSize({ width: this.width(c.box), height: 200 })
    }).observe(this.root)
  }

  /** New facts: each metric's points (oldest first, at most the server's bound); a map job's run reports none. */
  update(metrics, kind) {
    this.metrics = metrics ?? {}
    const names = Object.keys(this.metrics)
    this.root.hidden = names.length === 0 && kind === 'map'
    this.controls.hidden = names.length === 0
    this.note.hidden = names.length > 0
    setText(
      this.note,
      'No metrics reported. A supervised program reports them with longhaul.metric(name, value, step); a loop with its metrics(state), at each checkpoint.',
    )
    // A metric without steps is drawn against time.
    for (const name of names) {
      if (!this.charts.has(name)) this.add(name)
    }
    this.draw()
  }

  add(name) {
    const title = el('h3', {}, name)
    const last = el('p', { class: 'muted metric-last' })
    const box = el('div', { class: 'chart metric', role: 'img', 'aria-label': `${name} chart` })
    this.list.append(el('div', { class: 'metric-item', 'data-metric': name }, title, last, box))
    this.charts.set(name, { box, last, plot: null, by: null })
  }

  byOf(name) {
    return this.by === 'step' && this.metrics[name].every((p) => p.step !== null) ? 'step' : 'time'
  }

  draw() {
    setText(this.weightText, this.weight.toFixed(2))
    for (const [name, c] of this.charts) {
      const points = this.metrics[name] ?? []
      const latest = points.at(-1)
      setText(
        c.last,
        latest
          ? `latest ${metricValue(latest.value)}${latest.step !== null ? ` at step ${count(latest.step)}` : ''}, ${clockTime(latest.at)} · ${count(points.length)} point${points.length === 1 ? '' : 's'}`
          : 'no points',
      )
      if (typeof uPlot !== 'function') continue
      const by = this.byOf(name)
      const data = metricColumns(points, by, this.weight)
      if (!c.plot || c.by !== by) {
        c.plot?.destroy()
        c.by = by
        c.box.dataset.x = by
        c.plot = this.create(name, by, data, c.box)
      } else c.plot.setData(data)
    }
  }

  rebuild() {
    for (const c of this.charts.values()) {
      c.plot?.destroy()
      c.plot = null
    }
    this.draw()
  }

  width(box) {
    return Math.max(240, box.clientWidth || this.root.clientWidth - 36)
  }

  create(name, by, data, box) {
    const text = cssVar('--muted')
    const grid = cssVar('--line')
    const axis = (extra) => ({
      stroke: text,
      grid: { stroke: grid, width: 1 },
      ticks: { stroke: grid, width: 1 },
      font: '12px system-ui, sans-serif',
      ...extra,
    })
    const value = (_u, v) => metricValue(v)
    return new uPlot(
      {
        width: this.width(box),
        height: 200,
        cursor: { drag: { x: true, y: false } },
        scales: { x: { time: by === 'time' } },
        series: [
          {
            label: by,
            value: (_u, v) => (v === null ? '—' : by === 'time' ? clockTime(v * 1000) : `step ${count(v)}`),
          },
          { label: `${name} (smoothed)`, stroke: cssVar('--running'), width: 2, value },
          { label: `${name} (raw)`, stroke: cssVar('--running'), alpha: 0.3, width: 1, value },
        ],
        axes: [
          axis(by === 'step' ? { values: (_u, splits) => splits.map(compact) } : {}),
          axis({ size: 56, values: (_u, splits) => splits.map(metricValue) }),
        ],
      },
      data,
      box,
    )
  }
}
