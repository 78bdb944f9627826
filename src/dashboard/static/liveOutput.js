// The last lines of the supervised program running now, read again every few seconds while the page is open and the
// run is live: as text, at most the newest 50 (its supervisor keeps them in the run folder, rewritten when they change).

import { el, getJson, setText } from './dom.js'
import { clockTime, count } from './format.js'

/** How often the lines are read again while the run is live. */
const EVERY_MS = 2_000

export class LiveOutput {
  constructor(run) {
    this.run = run
    this.timer = null
    this.title = el('h2', { id: 'output-title' }, 'Program output, now')
    this.note = el('p', { class: 'muted' })
    this.lines = el('pre', { class: 'log output live', 'aria-live': 'off' })
    this.root = el(
      'section',
      { class: 'card', 'aria-labelledby': 'output-title', hidden: true },
      this.title,
      this.note,
      this.lines,
    )
  }

  /** A live status, and whether the run is a supervised program's (known from its facts): reading starts or stops. */
  follow(run, isProgram) {
    this.run = run
    if (isProgram !== undefined) this.isProgram = isProgram
    const reading = this.isProgram && run.live
    if (reading && !this.timer) {
      this.read()
      this.timer = setInterval(() => this.read(), EVERY_MS)
    } else if (!reading && this.timer) {
      clearInterval(this.timer)
      this.timer = null
      // The life's end is in its journal now (Logs and errors); what is left here is said to be no longer live.
      this.read()
    } else if (this.isProgram && !this.readOnce) {
      // A finished run: its folder is read once.
      this.readOnce = true
      this.read()
    }
  }

  async read() {
    const url = `/api/runs/${encodeURIComponent(this.run.id)}/output?dir=${encodeURIComponent(this.run.dir ?? '')}`
    const answer = await getJson(url).catch(() => undefined)
    if (!answer) return
    const output = answer.output
    this.root.hidden = !output && !this.run.live
    if (!output) {
      setText(this.note, 'No program is running now; the last lines of each life that ended are under Logs and errors.')
      this.lines.hidden = true
      return
    }
    this.lines.hidden = false
    const who = `life ${output.life ?? '?'} (pid ${output.pid ?? '?'})`
    const when = output.at ? `, as of ${clockTime(output.at)}` : ''
    setText(
      this.note,
      output.running
        ? `The last ${count(output.lines.length)} lines of ${who}, running now${when}; read again every ${EVERY_MS / 1000} s.`
        : `The last ${count(output.lines.length)} lines seen of ${who}${when}, before its supervisor stopped without a word: not live.`,
    )
    const atEnd = this.lines.scrollTop + this.lines.clientHeight >= this.lines.scrollHeight - 4
    setText(this.lines, output.lines.join('\n') || '(nothing yet)')
    // Kept at the newest line, unless the reader scrolled up to read.
    if (atEnd) this.lines.scrollTop = this.lines.scrollHeight
  }
}
