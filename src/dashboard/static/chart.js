// Items per second over time: smoothed, with the raw rate faint behind it, and a break between sessions.

import { el, getJson, setText } from './dom.js'
import { clockTime, compact, count, rate } from './format.js'
import { chartColumns, commitsOf, programColumns, sessionsOf } from './throughput.js'

/** A supervised program's run (`longhaul exec`): its sessions name the program's command line. */
const isProgram = (detail) =>
  (detail.events ?? []).some((e) => e.type === 'program-started' || Array.isArray(e.detail?.command))

/** A stalled run's line goes on to the time of its status, falling: nothing is being made. */
const stalledUntil = (run) =>
  run.snapshot.state === 'stalled' && run.live ? Date.parse(run.snapshot.updatedAt) : undefined

const cssVar = (name) => getComputedStyle(document.documentElement).getPropertyValue(name).trim()

export class ThroughputChart {
  constructor() {
    this.commits = []
    this.sessions = []
    this.before = 0
    this.columns = chartColumns([], [])
    this.total = 1
    this.plot = el('div', { class: 'chart' })
    this.note = el('p', { class: 'muted' })
    this.table = el('tbody')
    this.numbers = el(
      'details',
      { class: 'chart-numbers' },
      el('summary', {}, 'The numbers behind the chart'),
      el(
        'table',
        { class: 'commits' },
        el(
          'thead',
          {},
          el(
            'tr',
            {},
            el('th', {}, 'At'),
            el('th', { class: 'num' }, 'Items/s (smoothed)'),
            el('th', { class: 'num' }, 'Items/s (raw)'),
            el('th', { class: 'num' }, 'Committed'),
          ),
        ),
        this.table,
      ),
    )
    this.numbers.addEventListener('toggle', () => this.renderNumbers())
    this.root = el(
      'section',
      { class: 'card', 'aria-labelledby': 'chart-title' },
      el('h2', { id: 'chart-title' }, 'Items per second'),
      el(
        'p',
        { class: 'hint muted' },
        'The solid line is the rate the items were made at, smoothed over a moving window; the faint one is the rate as commits landed (raw); the dashed one is items committed (right axis). A break is a time no session of the run was running.',
      ),
      this.note,
      this.plot,
      this.numbers,
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
          // Room for the smoothed line; a raw spike above it is cut at the top, not allowed to flatten it.
          rate: { range: () => [0, this.rateTop()] },
          items: { range: () => [0, Math.max(1, this.total)] },
        },
        series: [
          { value: (_u, v) => (v === null || v === undefined ? '—' : clockTime(v * 1000)) },
          {
            label: 'items/s',
            scale: 'rate',
            stroke: cssVar('--running'),
            fill: cssVar('--running-fill'),
            width: 2,
            value: (_u, v) => (v === null || v === undefined ? '—' : rate(v)),
          },
          {
            label: 'raw',
            scale: 'rate',
            stroke: cssVar('--muted'),
            alpha: 0.45,
            width: 1,
            value: (_u, v) => (v === null || v === undefined ? '—' : rate(v)),
          },
          {
            label: 'committed',
            scale: 'items',
            stroke: text,
            width: 1.5,
            dash: [5, 5],
            value: (_u, v) => (v === null || v === undefined ? '—' : count(v)),
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
      this.columns,
      this.plot,
    )
    this.draw()
  }

  width() {
    return Math.max(240, this.plot.clientWidth || this.root.clientWidth - 36)
  }

  /** The top of the rate axis: above the smoothed line's highest point, and the raw's when there is no smoothed one. */
  rateTop() {
    const highest = (values) => Math.max(0, ...values.filter((v) => typeof v === 'number'))
    const smoothed = highest(this.columns[1])
    const top = smoothed > 0 ? smoothed * 1.5 : highest(this.columns[2]) * 1.15
    return top > 0 ? top : 1
  }

  /** The run's history as the server has it: its commits and the events that tell its sessions. */
  reset(detail) {
    this.detail = detail
    if (isProgram(detail)) {
      // A supervised program commits no ranges: its pace is drawn from where it said it was, as its journal has it.
      this.stalledUntil = stalledUntil(detail)
      this.total = detail.snapshot.total ?? Math.max(1, detail.snapshot.done)
      this.programLives()
      return
    }
    const { commits, before } = commitsOf(detail)
    this.commits = commits
    this.before = before
    this.sessions = sessionsOf(detail.events)
    this.stalledUntil = stalledUntil(detail)
    this.total = detail.snapshot.total ?? Math.max(1, detail.snapshot.done)
    this.draw()
  }

  /** A live status: a stalled run's line goes on to its time. */
  status(run) {
    const until = stalledUntil(run)
    if (until === this.stalledUntil) return
    this.stalledUntil = until
    this.draw()
  }

  /** A supervised program's lives and progress, read again (each time the run's history is). */
  async programLives() {
    const { id, dir } = this.detail
    const lives = await getJson(`/api/runs/${encodeURIComponent(id)}/lives?dir=${encodeURIComponent(dir ?? '')}`).catch(
      () => undefined,
    )
    if (!lives) return
    this.lives = lives.lives
    this.draw()
  }

  /** A live commit: the run's committed count at the time of its newest commit. */
  add(t, committed, total) {
    // A program's position comes from its journal (`programLives`), not from its last checkpoint's time.
    if (this.lives) return
    this.total = total ?? Math.max(1, committed)
    const last = this.commits.at(-1)
    const had = this.before + this.commits.reduce((sum, c) => sum + c.n, 0)
    if ((last && t <= last.t) || committed <= had) return
    this.commits.push({ t, n: committed - had })
    this.draw()
  }

  draw() {
    this.columns = this.lives
      ? programColumns(this.lives, this.stalledUntil)
      : chartColumns(this.commits, this.sessions, this.before, this.stalledUntil)
    const enough = this.lives
      ? this.lives.reduce((sum, life) => sum + life.samples.length, 0) >= 2
      : this.commits.length >= 2
    this.note.hidden = enough || !this.chart
    this.plot.hidden = !enough
    if (!enough)
      setText(
        this.note,
        this.lives
          ? 'The chart starts once the program has said twice where it is (its progress, journaled every progress interval).'
          : 'The chart starts after the second commit.',
      )
    this.chart?.setData(this.columns)
    this.renderNumbers()
  }

  /** The plotted numbers as a table, for whoever cannot see the chart; filled only while it is open. */
  renderNumbers() {
    if (!this.numbers.open) return
    const [xs, smoothed, raw, committed] = this.columns
    const shown = (v, format) => (v === null ? 'no session running' : v === undefined ? '' : format(v))
    this.table.replaceChildren(
      ...xs.map((x, i) =>
        el(
          'tr',
          { 'data-gap': smoothed[i] === null ? 'true' : null },
          el('td', {}, clockTime(x * 1000)),
          el('td', { class: 'num', 'data-value': smoothed[i] ?? '' }, shown(smoothed[i], rate)),
          el('td', { class: 'num', 'data-value': raw[i] ?? '' }, shown(raw[i], rate)),
          el('td', { class: 'num' }, shown(committed[i], count)),
        ),
      ),
    )
  }
}
