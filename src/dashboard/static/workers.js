// Who is working: each process the journal names (owner, joined workers, a supervised program's lives) and, for a
// shared run, who holds the owner lease and a claim.

import { el } from './dom.js'
import { clockTime, count, duration, rate, secondsSince, unitOf } from './format.js'

const ROLE = { owner: 'owner', worker: 'worker (joined)', program: 'program' }

/** What a process is doing now, in words: working, or how it ended. */
function statusOf(p, run) {
  if (p.ended)
    return { word: p.ended === 'complete' ? 'done' : p.ended, tone: /^failed|killed/.test(p.ended) ? 'bad' : '' }
  if (p.role === 'worker' && run.shared) {
    const holds = run.shared.workers.includes(`${p.host}:${p.pid}`)
    return holds ? { word: 'working (holds a claim)', tone: 'good' } : { word: 'holds no claim', tone: 'warn' }
  }
  if (!run.live) return { word: 'gone', tone: 'warn' }
  return { word: 'working', tone: 'good' }
}

/**
 * The claims a process holds, in a shared run (its journal says which processes hold one now); on one machine every
 * claim is the owner's, and a program claims nothing.
 */
function claimsOf(p, run) {
  // The owner's own claims are not told apart from its lease: only the other processes' are listed.
  if (!run.shared || p.role !== 'worker') return '—'
  if (p.ended) return 'none (given back)'
  return run.shared.workers.includes(`${p.host}:${p.pid}`) ? 'holds a claim' : 'none'
}

export function renderWorkers(section, facts, run) {
  const s = run.snapshot
  const children = [el('h2', { id: 'workers-title' }, 'Who is working')]
  if (run.shared) {
    const claims = run.shared.workers
    children.push(
      el(
        'p',
        {},
        el(
          'span',
          { class: `event ${run.shared.ownerAlive ? 'good' : 'warn'}` },
          run.shared.ownerAlive ? 'OWNER LEASE HELD' : 'OWNER LEASE FREE',
        ),
        ` · ${claims.length ? `${count(claims.length)} other process${claims.length === 1 ? '' : 'es'} holding claims: ${claims.join(', ')}` : 'no other process holds a claim'}`,
        el('span', { class: 'muted' }, ` · journal ${run.shared.store}`),
      ),
    )
  }
  if (run.live && s.owner?.pid) {
    const last = s.lastCheckpointAt ? `${duration(secondsSince(s.lastCheckpointAt))} ago` : 'none yet'
    children.push(
      el(
        'p',
        { class: 'muted' },
        `The owner (pid ${s.owner.pid} on ${s.owner.host}): ${rate(s.itemsPerSecond)} ${unitOf(s)}/s over ${count(s.workers)} worker thread${s.workers === 1 ? '' : 's'}${s.concurrency ? ` (${count(s.concurrency)} in flight)` : ''}, ${count(s.inFlight)} finished and not yet committed, last commit ${last}.`,
      ),
    )
  }
  const processes = facts?.processes ?? []
  if (!processes.length) {
    section.replaceChildren(...children, el('p', { class: 'muted' }, 'The journal names no process yet.'))
    return
  }
  children.push(
    el(
      'table',
      { class: 'workers' },
      el(
        'thead',
        {},
        el(
          'tr',
          {},
          el('th', {}, 'Role'),
          el('th', {}, 'Host'),
          el('th', {}, 'PID'),
          el('th', {}, 'Since'),
          el('th', {}, 'Status'),
          el('th', {}, 'Claims'),
          el('th', { class: 'num' }, 'Items'),
          el('th', {}, 'Last finished'),
          el('th', { class: 'num' }, `${unitOf(s)}/s`),
        ),
      ),
      el(
        'tbody',
        {},
        processes.map((p) => {
          const status = statusOf(p, run)
          return el(
            'tr',
            {},
            el('td', {}, ROLE[p.role] ?? p.role),
            el('td', { class: 'detail' }, p.host ?? '—'),
            el('td', { class: 'num' }, p.pid ?? '—'),
            el('td', { class: 'num nowrap' }, clockTime(p.since)),
            el(
              'td',
              { class: 'detail' },
              el('span', { class: `event ${status.tone}` }, status.word),
              p.endedAt ? el('span', { class: 'muted' }, ` at ${clockTime(p.endedAt)}`) : null,
            ),
            el('td', { class: 'detail' }, claimsOf(p, run)),
            el(
              'td',
              { class: 'num', 'data-items': p.items ?? '' },
              p.items === null || p.items === undefined ? '—' : count(p.items),
            ),
            el(
              'td',
              { class: 'nowrap' },
              p.lastItem === null || p.lastItem === undefined
                ? '—'
                : `${p.role === 'program' ? 'at' : 'item'} ${count(p.lastItem)}, ${clockTime(p.lastAt)}`,
            ),
            el(
              'td',
              { class: 'num', 'data-rate': p.itemsPerSecond ?? '' },
              p.itemsPerSecond === null || p.itemsPerSecond === undefined ? '—' : rate(p.itemsPerSecond),
            ),
          )
        }),
      ),
    ),
  )
  section.replaceChildren(...children)
}
