// What the run is: its command line, job, params, seed, fingerprint, code, versions, policy and proof.

import { el } from './dom.js'
import { baseName, clockTime, count } from './format.js'

/** A value as one line of JSON, or a dash. */
const json = (v) => (v === null || v === undefined ? '—' : typeof v === 'string' ? v : JSON.stringify(v))

/** A command line as a shell would take it: words with spaces or quotes are quoted. */
export function commandLine(words) {
  return words.map((w) => (/^[\w@%+=:,./-]+$/.test(w) ? w : `'${w.replaceAll("'", "'\\''")}'`)).join(' ')
}

function row(key, label, value, { code = false } = {}) {
  if (value === null || value === undefined || value === '') return null
  return el(
    'div',
    { 'data-fact': key },
    el('dt', {}, label),
    el('dd', {}, code ? el('code', {}, String(value)) : String(value)),
  )
}

/** The launch gate's decision, the policy it applied and the proof it accepted. */
function gateText(gate) {
  if (!gate) return null
  if (gate.status === 'proved')
    return `proved by ${baseName(gate.proof)} for ${count(gate.target)} items, valid until ${String(gate.expiresAt).slice(0, 10)}`
  if (gate.status === 'waived') return `WAIVED: ${gate.reason}`
  if (gate.status === 'not-required') return `no proof needed (at most ${count(gate.limit)} items)`
  return String(gate.status)
}

export function renderIdentity(section, facts, run) {
  const id = facts?.identity
  const children = [el('h2', { id: 'identity-title' }, 'Identity')]
  if (!id) {
    section.replaceChildren(...children, el('p', { class: 'muted' }, 'This run has no journal to say what it is.'))
    return
  }
  const first = facts.sessions[0]
  const latest = facts.sessions.at(-1)
  const command = latest?.command ?? first?.command
  const sources = Object.keys(id.sources ?? {})
  const hosts = [...new Set(facts.processes.map((p) => p.host).filter(Boolean))]
  const gate = run.snapshot.gate
  const proof = run.snapshot.gate?.status === 'proved' ? baseName(gate.proof) : null
  const versions = [...new Set(facts.sessions.map((s) => s.version).filter(Boolean))]
  children.push(
    el(
      'dl',
      { class: 'facts identity' },
      [
        row('command', 'Command line', command ? commandLine(command) : null, { code: true }),
        row('cwd', 'Started in', latest?.cwd ?? null, { code: true }),
        row(
          'kind',
          'Kind',
          { map: 'map job (items)', loop: 'loop (steps)', exec: 'supervised program' }[id.kind] ?? id.kind,
        ),
        row('job', 'Job', id.job),
        row('params', 'Params', id.kind === 'exec' ? null : json(id.params), { code: true }),
        row('seed', 'Seed', id.seed),
        row('fingerprint', 'Fingerprint', id.fingerprint, { code: true }),
        row('files', 'Job files (hashed into the fingerprint)', sources.length ? sources.join(', ') : null, {
          code: true,
        }),
        row('input', 'Input', id.input ? json(id.input.description) : null, { code: true }),
        row('output', 'Output', id.output ? json(id.output) : null, { code: true }),
        row('runtime', 'Runtime', id.runtime ? json(id.runtime) : null),
        row('lockfile', 'Lockfile', id.lockfile ? `sha256 ${id.lockfile.slice(0, 16)}…` : null),
        row(
          'workers',
          'Workers and hosts',
          `${count(run.snapshot.workers)} worker thread${run.snapshot.workers === 1 ? '' : 's'}${run.snapshot.concurrency ? `, ${count(run.snapshot.concurrency)} in flight` : ''} · ${hosts.length ? hosts.join(', ') : (run.snapshot.owner?.host ?? 'host unknown')}`,
        ),
        row(
          'version',
          'longhaul',
          `${versions.length ? versions.join(', ') : `major ${id.longhaulMajor ?? '?'}`} (this dashboard: ${id.servedBy})`,
        ),
        row('policy', 'Policy', gate?.policy ?? null),
        row('gate', 'Launch gate', gateText(gate)),
        row('proof', 'Proof', proof, { code: true }),
        row('digest', 'Digest', id.digest, { code: true }),
        row('shards', 'Shards at', id.shardsAt, { code: true }),
        row('created', 'Created', clockTime(id.createdAt)),
        row('sessions', 'Sessions', facts.sessions.length ? count(facts.sessions.length) : null),
      ].filter(Boolean),
    ),
  )
  section.replaceChildren(...children)
}
