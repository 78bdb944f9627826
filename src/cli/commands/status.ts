import { existsSync, readdirSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { LonghaulError, UsageError } from '../../errors.ts'
import { holdsRun, readRunStatus, recentEvents } from '../../inspect/readStatus.ts'
import type { RunEvent } from '../../journal/store.ts'
import type { RunStatus } from '../../run/runStatus.ts'
import { progressText } from '../../telemetry/progressText.ts'
import { EXIT, exitCodeFor } from '../exitCodes.ts'
import type { Io } from '../io.ts'

/** The run folders `status` looks at when given none: this folder if it is a run, else every run under ./runs. */
export function defaultRunDirs(): string[] {
  if (holdsRun('.')) return ['.']
  if (!existsSync('runs')) return []
  return readdirSync('runs')
    .map((name) => join('runs', name))
    .filter((dir) => holdsRun(dir))
    .sort()
}

/** Reads a run's status; a folder that is no run is a usage error. */
async function statusOfDir(dir: string, now: number): Promise<RunStatus> {
  const status = await readRunStatus(dir, now)
  if (!status)
    throw new UsageError(
      `${dir} holds no longhaul run (no progress.json, .longhaul/journal.sqlite or .longhaul/store.json). Give the --out folder of a run.`,
    )
  return status
}

/** Reads each run's status; a folder that is no run is a usage error. */
export async function statusesOf(dirs: readonly string[], now: number): Promise<RunStatus[]> {
  const statuses: RunStatus[] = []
  for (const dir of dirs) statuses.push(await statusOfDir(dir, now))
  return statuses
}

export function renderStatus(status: RunStatus, now: number, events: readonly RunEvent[] = []): string {
  const text = progressText(status.snapshot, now).trimEnd().split('\n')
  // Line 1 is where the run stands: the state, or why it is not what the file says (the owner is gone).
  text[0] = status.summary
  if (status.shared)
    text.splice(text.findIndex((line) => line.startsWith('Workers:')) + 1, 0, sharedLine(status.shared))
  const history = events.map((e) => `    ${new Date(e.at).toISOString()}  ${e.type}${describe(e.detail)}`)
  return [
    /^https?:\/\//.test(status.dir) ? status.dir : resolve(status.dir),
    ...text.map((line) => `  ${line}`),
    ...(history.length ? ['  Recent events:', ...history] : []),
  ].join('\n')
}

/** Where and how a session was started: kept for the run's identity (the dashboard), too long for a line of events. */
const IDENTITY = new Set(['host', 'version', 'cwd', 'argv'])

function describe(detail: Readonly<Record<string, unknown>>): string {
  const parts = Object.entries(detail)
    .filter(([key]) => !IDENTITY.has(key))
    .map(([key, value]) => `${key} ${shown(value)}`)
  return parts.length ? ` (${parts.join(', ')})` : ''
}

/** Who is at work on a shared run, as its journal says. */
function sharedLine(shared: NonNullable<RunStatus['shared']>): string {
  const owner = shared.ownerAlive ? 'the owner holds its lease' : 'the owner holds no live lease'
  const workers = shared.workers.length
    ? `${shared.workers.length} worker(s) holding claims (${shared.workers.join(', ')})`
    : 'no worker holds a claim'
  return `Journal:         ${shared.store} (run ${shared.runId}): ${owner}; ${workers}`
}

/** A value of an event's details, as a person reads it: a command line as words, an object as JSON. */
function shown(value: unknown): string {
  if (typeof value === 'number') return String(Math.round(value * 10) / 10)
  if (Array.isArray(value)) return value.map(String).join(' ')
  if (value !== null && typeof value === 'object') return JSON.stringify(value)
  return String(value)
}

/**
 * `longhaul status [DIR…]`: where each run stands, from any terminal, live or
 * dead. A run that cannot be read (its journal's database does not answer)
 * says why in its place, and the others are still shown; the exit code is
 * then that error's.
 */
export async function statusCommand(dirs: readonly string[], options: { json?: boolean }, io: Io): Promise<number> {
  const targets = dirs.length > 0 ? dirs : defaultRunDirs()
  if (targets.length === 0)
    throw new UsageError(
      'no run here: give a run folder (the --out of `longhaul run`), or run this where ./runs holds runs',
    )
  const now = Date.now()
  const read: ({ status: RunStatus; events: RunEvent[] } | Unreadable)[] = []
  for (const dir of targets) {
    try {
      const status = await statusOfDir(dir, now)
      read.push({ status, events: options.json ? [] : await recentEvents(dir) })
    } catch (error) {
      // A folder that holds no run is the caller's mistake; a run that cannot be read is that run's news.
      if (!(error instanceof LonghaulError) || error.code === 'LONGHAUL_BAD_USAGE') throw error
      read.push({ dir, error })
    }
  }
  if (options.json) {
    io.out(
      JSON.stringify(
        read.map((r) =>
          'error' in r
            ? { dir: resolve(r.dir), error: { code: r.error.code, message: r.error.message } }
            : statusJson(r.status),
        ),
      ),
    )
  } else {
    io.out(
      read
        .map((r) =>
          'error' in r ? `${resolve(r.dir)}\n  UNREADABLE — ${r.error.message}` : renderStatus(r.status, now, r.events),
        )
        .join('\n\n'),
    )
  }
  const unreadable = read.find((r): r is Unreadable => 'error' in r)
  return unreadable ? exitCodeFor(unreadable.error) : EXIT.ok
}

/** A run whose journal could not be read, and why. */
interface Unreadable {
  readonly dir: string
  readonly error: LonghaulError
}

function statusJson(s: RunStatus): Record<string, unknown> {
  return {
    dir: resolve(s.dir),
    live: s.live,
    ownerGone: s.ownerGone,
    heartbeatAgeSeconds: s.heartbeatAgeSeconds,
    summary: s.summary,
    ...s.snapshot,
    ...(s.shared && { shared: s.shared }),
  }
}
