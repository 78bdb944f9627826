// Logs: the lines a supervised program logged (its protocol's `log`) and every error the run recorded, with the item
// and the job's own stack.

import { el } from './dom.js'
import { clockTime, count } from './format.js'

const LEVEL_TONE = { error: 'bad', critical: 'bad', fatal: 'bad', warning: 'warn', warn: 'warn' }

export function renderLogs(section, facts) {
  const children = [el('h2', { id: 'logs-title' }, 'Logs and errors')]
  const failures = facts?.failures ?? []
  const logs = facts?.logs ?? []
  children.push(el('h3', {}, failures.length ? `Errors (${count(failures.length)})` : 'Errors'))
  if (!failures.length) children.push(el('p', { class: 'muted' }, 'No errors recorded.'))
  for (const f of [...failures].reverse()) {
    const what = [
      f.item !== null ? `item ${count(f.item)}` : null,
      f.attempts !== null ? `after ${f.attempts} attempt${f.attempts === 1 ? '' : 's'}` : null,
      f.worker ? `in ${f.worker}` : null,
    ].filter(Boolean)
    children.push(
      el(
        'div',
        { class: 'failure' },
        el(
          'p',
          {},
          el('span', { class: 'event bad' }, f.type === 'process-failed' ? 'PROCESS FAILED' : 'FAILED'),
          ` ${clockTime(f.at)}${what.length ? ` · ${what.join(' ')}` : ''}`,
        ),
        el('pre', { class: 'log error' }, f.error),
        f.stack
          ? el(
              'details',
              { open: true },
              el('summary', {}, "The job's stack"),
              el('pre', { class: 'log stack' }, f.stack),
            )
          : null,
      ),
    )
  }
  const output = facts?.output ?? []
  if (output.length) {
    children.push(el('h3', {}, 'Program output'))
    output.forEach((life, i) => {
      const how = life.signal ? `killed by ${life.signal}` : `exited with code ${life.code}`
      const title = `Life ${life.life ?? '?'} (pid ${life.pid ?? '?'}) ${how} at ${clockTime(life.at)}: its last ${count(life.lines.length)} line${life.lines.length === 1 ? '' : 's'}`
      const lines = el('pre', { class: 'log output' }, life.lines.join('\n') || '(nothing)')
      // The newest life is open; earlier ones fold away.
      children.push(el('details', { open: i === output.length - 1, class: 'life' }, el('summary', {}, title), lines))
    })
  }
  // A map job or a loop logs nothing of its own to the journal: the program log is a supervised program's.
  const programLog = logs.length > 0 || facts?.identity?.kind === 'exec'
  if (programLog) children.push(el('h3', {}, 'Program log'))
  if (!programLog) {
    // nothing more to say
  } else if (!logs.length) {
    children.push(
      el(
        'p',
        { class: 'muted' },
        'No log lines. A supervised program logs with longhaul.log(…) (its protocol); of its other output, the last lines of each life are kept (above).',
      ),
    )
  } else {
    children.push(
      el(
        'p',
        { class: 'muted' },
        `The newest ${count(logs.length)} line${logs.length === 1 ? '' : 's'}${facts.logsLeftOut ? ` (${count(facts.logsLeftOut)} older not shown)` : ''}.`,
      ),
      el(
        'ol',
        { class: 'log lines', 'aria-label': 'log lines, newest last' },
        logs.map((line) =>
          el(
            'li',
            { 'data-level': line.level },
            el('span', { class: 'muted nowrap' }, `${clockTime(line.at)} `),
            el('span', { class: `event ${LEVEL_TONE[line.level] ?? ''}` }, line.level.toUpperCase()),
            ` ${line.message}`,
          ),
        ),
      ),
    )
  }
  section.replaceChildren(...children)
  // The newest lines are the ones wanted: the list opens scrolled to its end.
  const list = section.querySelector('ol.lines')
  if (list) list.scrollTop = list.scrollHeight
}
