import { join, resolve } from 'node:path'
import { openRunJournal } from '../journal/runJournal.ts'
import type { RunEvent, RunRecord } from '../journal/store.ts'
import { VERSION } from '../version.ts'
import { type ProcessWork, workOf } from './processWork.ts'
import type { RunItem } from './runs.ts'
import { thinned } from './thin.ts'

/** How long the page waits for a run's PostgreSQL server before it shows the run without its facts. */
const CONNECT_TIMEOUT_MS = 5_000
/** What a run's page is sent, at most: the newest of each; a metric's points thinned evenly over its whole history. */
export const FACT_LIMITS = { sessions: 50, logs: 200, failures: 50, metrics: 12, points: 1_000, lives: 5 } as const

/** What a run is: as its journal recorded it when it was created, and the sessions that worked on it. */
export interface RunIdentity {
  readonly kind: RunRecord['kind']
  readonly job: string
  readonly fingerprint: string
  readonly createdAt: number
  readonly params: unknown
  readonly seed: number | null
  /** The job's code as hashed into its identity (file → sha256), relative to the job file's folder. */
  readonly sources: Readonly<Record<string, string>>
  readonly lockfile: string | null
  readonly runtime: unknown
  readonly input: unknown
  readonly output: unknown
  /** The longhaul major version the run was made with, and the full version of the one reading it. */
  readonly longhaulMajor: number | null
  readonly servedBy: string
  readonly shardsAt: string | null
  /** A loop's final digest, or a map run's digest from its `complete` event. */
  readonly digest: string | null
}

/** A session of the run: who started it, where, with what. */
export interface RunSession {
  readonly at: number
  readonly type: 'started' | 'resumed' | 'joined'
  readonly pid: number | null
  readonly host: string | null
  readonly workers: number | null
  readonly concurrency: number | null
  /** The command line: a supervised program's, or longhaul's own arguments when the journal kept them. */
  readonly command: readonly string[] | null
  readonly cwd: string | null
  readonly version: string | null
}

/** A process that did or does work on the run, as the journal tells it, with what it got done. */
export interface RunProcess extends ProcessWork {
  readonly role: 'owner' | 'worker' | 'program'
  readonly host: string | null
  readonly pid: number | null
  readonly since: number
  /** What it last did, in words (`left`, `failed: …`, `exited with code 0`), null while it works. */
  readonly ended: string | null
  readonly endedAt: number | null
}

export interface RunLogLine {
  readonly at: number
  readonly level: string
  readonly message: string
}

/** An error the run recorded: the item, the message and the job's own stack, when known. */
export interface RunFailure {
  readonly at: number
  readonly type: string
  readonly error: string
  readonly item: number | null
  readonly attempts: number | null
  readonly stack: string | null
  readonly worker: string | null
}

/** How a supervised program's life ended, and the last lines it wrote. */
export interface ProgramOutput {
  readonly at: number
  readonly life: number | null
  readonly pid: number | null
  readonly code: number | null
  readonly signal: string | null
  readonly lines: readonly string[]
}

export interface MetricPoint {
  readonly at: number
  readonly step: number | null
  readonly value: number
}

export interface RunFacts {
  readonly identity: RunIdentity | null
  readonly sessions: readonly RunSession[]
  readonly processes: readonly RunProcess[]
  readonly logs: readonly RunLogLine[]
  /** Log lines the journal holds beyond those sent. */
  readonly logsLeftOut: number
  readonly failures: readonly RunFailure[]
  /** A supervised program's last lives that left their last lines, newest last. */
  readonly output: readonly ProgramOutput[]
  /** Each metric's points (thinned evenly when there are many), oldest first: a supervised program's `metric` lines, a loop's metrics at its checkpoints. */
  readonly metrics: Readonly<Record<string, readonly MetricPoint[]>>
}

/**
 * What the run's page shows beyond its progress: its identity, who worked on
 * it, its logs and errors, and the metrics it reported, read from its journal
 * (through the store, read-only) and bounded to the newest of each.
 */
export async function runFacts(root: string, item: RunItem): Promise<RunFacts> {
  const dir = join(resolve(root), item.dir)
  const journal = await openRunJournal(dir, { connectTimeoutMs: CONNECT_TIMEOUT_MS })
  if (!journal) return factsOf(undefined, [])
  try {
    return factsOf(await journal.store.getRun(), await journal.store.events())
  } finally {
    await journal.store.close()
  }
}

/** The facts of a run from its journal's record and events. */
export function factsOf(run: RunRecord | undefined, events: readonly RunEvent[]): RunFacts {
  const logs = events.filter((e) => e.type === 'log')
  return {
    identity: run ? identityOf(run, events) : null,
    sessions: events.filter(isSession).slice(-FACT_LIMITS.sessions).map(sessionOf),
    processes: processesOf(events),
    logs: logs.slice(-FACT_LIMITS.logs).map((e) => ({
      at: e.at,
      level: text(e.detail.level) ?? 'info',
      message: text(e.detail.message) ?? '',
    })),
    logsLeftOut: Math.max(0, logs.length - FACT_LIMITS.logs),
    failures: events
      .filter((e) => (e.type === 'failed' || e.type === 'process-failed') && text(e.detail.error) !== null)
      .slice(-FACT_LIMITS.failures)
      .map(failureOf),
    output: events
      .filter((e) => e.type === 'program-exited' && strings(e.detail.lastLines) !== null)
      .slice(-FACT_LIMITS.lives)
      .map((e) => ({
        at: e.at,
        life: num(e.detail.life),
        pid: num(e.detail.pid),
        code: num(e.detail.code),
        signal: text(e.detail.signal),
        lines: strings(e.detail.lastLines)!.slice(-50),
      })),
    metrics: metricsOf(events),
  }
}

function identityOf(run: RunRecord, events: readonly RunEvent[]): RunIdentity {
  let recorded: Record<string, unknown> = {}
  try {
    const parsed = JSON.parse(run.identity) as unknown
    if (parsed && typeof parsed === 'object') recorded = parsed as Record<string, unknown>
  } catch {
    // An identity that is not JSON (a supervised program's is its command): shown as what it is not.
  }
  const sources = recorded.sources && typeof recorded.sources === 'object' ? recorded.sources : {}
  const completed = events.findLast((e) => e.type === 'complete')
  return {
    kind: run.kind,
    job: run.job,
    fingerprint: run.fingerprint,
    createdAt: run.createdAt,
    params: recorded.params ?? null,
    seed: typeof recorded.seed === 'number' ? recorded.seed : null,
    sources: sources as Record<string, string>,
    lockfile: text(recorded.lockfile),
    runtime: recorded.runtime ?? null,
    input: recorded.input ?? null,
    output: recorded.output ?? null,
    longhaulMajor: typeof recorded.longhaulMajor === 'number' ? recorded.longhaulMajor : null,
    servedBy: VERSION,
    shardsAt: run.shardsAt,
    digest: run.finalDigest ?? text(completed?.detail.digest),
  }
}

const isSession = (e: RunEvent): boolean => e.type === 'started' || e.type === 'resumed' || e.type === 'joined'

function sessionOf(e: RunEvent): RunSession {
  const d = e.detail
  return {
    at: e.at,
    type: e.type as RunSession['type'],
    pid: num(d.pid),
    host: text(d.host),
    workers: num(d.workers),
    concurrency: num(d.concurrency),
    command: strings(d.command) ?? strings(d.argv),
    cwd: text(d.cwd),
    version: text(d.version),
  }
}

/**
 * Every process the journal names, newest session first: the owner of each
 * started/resumed session, each worker that joined, and each life of a
 * supervised program; with how it ended when it did.
 */
function processesOf(events: readonly RunEvent[]): RunProcess[] {
  const processes: (Omit<RunProcess, keyof ProcessWork> & { ended: string | null; endedAt: number | null })[] = []
  const open = (host: string | null, pid: number | null, roles: readonly RunProcess['role'][]) =>
    processes.findLast((p) => p.ended === null && p.pid === pid && roles.includes(p.role) && (!host || p.host === host))
  const end = (p: { ended: string | null; endedAt: number | null } | undefined, how: string, at: number) => {
    if (!p || p.ended !== null) return
    p.ended = how
    p.endedAt = at
  }
  for (const e of events) {
    const d = e.detail
    if (e.type === 'started' || e.type === 'resumed') {
      // A new session: the owner of the one before has ended, whether or not it said so.
      for (const p of processes) if (p.role === 'owner') end(p, 'gone', e.at)
      processes.push({ role: 'owner', host: text(d.host), pid: num(d.pid), since: e.at, ended: null, endedAt: null })
    } else if (e.type === 'joined') {
      const name = text(d.worker)
      processes.push({ role: 'worker', ...hostPid(name, d), since: e.at, ended: null, endedAt: null })
    } else if (e.type === 'left' || e.type === 'process-failed') {
      const { host, pid } = hostPid(text(d.worker), d)
      end(open(host, pid, ['worker', 'owner']), e.type === 'left' ? 'left' : `failed: ${text(d.error)}`, e.at)
    } else if (e.type === 'program-started') {
      processes.push({
        role: 'program',
        host: text(d.host),
        pid: num(d.pid),
        since: e.at,
        ended: null,
        endedAt: null,
      })
    } else if (e.type === 'program-exited') {
      const how = d.signal ? `killed by ${text(d.signal)}` : `exited with code ${num(d.code)}`
      end(open(null, num(d.pid), ['program']), how, e.at)
    } else if (e.type === 'complete' || e.type === 'failed' || e.type === 'interrupted') {
      // A complete run has nobody at work on it; a joined worker outlives the owner's failure or stop.
      for (const p of processes) if (p.role !== 'worker' || e.type === 'complete') end(p, e.type, e.at)
    }
  }
  const work = workOf(processes, events)
  return processes
    .map((p, k) => ({ ...p, ...work[k]! }))
    .slice(-FACT_LIMITS.sessions)
    .reverse()
}

/** A claim name `host:pid`, or the pid of the event. */
function hostPid(
  name: string | null,
  d: Readonly<Record<string, unknown>>,
): { host: string | null; pid: number | null } {
  const colon = name?.lastIndexOf(':') ?? -1
  if (name && colon > 0) return { host: name.slice(0, colon), pid: num(Number(name.slice(colon + 1))) }
  return { host: text(d.host), pid: num(d.pid) }
}

function failureOf(e: RunEvent): RunFailure {
  const d = e.detail
  return {
    at: e.at,
    type: e.type,
    error: text(d.error) ?? '',
    item: num(d.item),
    attempts: num(d.attempts),
    stack: text(d.stack),
    worker: text(d.worker),
  }
}

/**
 * Metrics by name: a supervised program's `metrics` events (each the latest
 * value and step of every metric, written when one changed) and a loop's
 * checkpoint events (its metrics at that step). A point is kept when its
 * value or step moved, so a metric that did not change is not repeated.
 */
function metricsOf(events: readonly RunEvent[]): Record<string, MetricPoint[]> {
  const series = new Map<string, MetricPoint[]>()
  const add = (name: string, point: MetricPoint) => {
    let points = series.get(name)
    if (!points) {
      if (series.size >= FACT_LIMITS.metrics) return
      points = []
      series.set(name, points)
    }
    const last = points.at(-1)
    if (last && last.value === point.value && last.step === point.step) return
    points.push(point)
  }
  for (const e of events) {
    if (e.type === 'metrics') {
      for (const [name, reported] of Object.entries(e.detail)) {
        const r = reported as { value?: unknown; step?: unknown; points?: unknown } | null
        // Every value reported since the write before, when the program's supervisor kept them; else the latest.
        if (Array.isArray(r?.points)) {
          for (const p of r.points as unknown[]) {
            if (!Array.isArray(p)) continue
            const [at, step, value] = p as unknown[]
            if (num(value) !== null) add(name, { at: num(at) ?? e.at, step: num(step), value: num(value)! })
          }
          continue
        }
        const value = num(r?.value)
        if (value !== null) add(name, { at: e.at, step: num(r?.step), value })
      }
    } else if (e.type === 'checkpoint' && e.detail.metrics && typeof e.detail.metrics === 'object') {
      for (const [name, v] of Object.entries(e.detail.metrics as Record<string, unknown>)) {
        const value = num(v)
        if (value !== null) add(name, { at: e.at, step: num(e.detail.step), value })
      }
    }
  }
  return Object.fromEntries([...series].map(([name, points]) => [name, thinned(points, FACT_LIMITS.points)]))
}

const text = (v: unknown): string | null => (typeof v === 'string' ? v : null)
const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null)
const strings = (v: unknown): string[] | null =>
  Array.isArray(v) && v.every((s) => typeof s === 'string') ? (v as string[]) : null
