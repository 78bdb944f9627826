import { existsSync, readdirSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { UsageError } from '../../errors.ts'
import { hasRun, runPaths } from '../../runner/index.ts'
import { SqliteStore } from '../../store/sqlite/sqliteStore.ts'
import type { RunEvent } from '../../store/store.ts'
import type { ProgressSnapshot } from '../../telemetry/snapshot.ts'
import { progressText } from '../../telemetry/progressText.ts'
import { readRunStatus, recentEvents, type RunStatus } from '../../telemetry/readStatus.ts'
import { EXIT } from '../exitCodes.ts'
import type { Io } from '../io.ts'

/** The run folders `status` looks at when given none: this folder if it is a run, else every run under ./runs. */
export function defaultRunDirs(): string[] {
  if (hasRun('.')) return ['.']
  if (!existsSync('runs')) return []
  return readdirSync('runs')
    .map((name) => join('runs', name))
    .filter((dir) => hasRun(dir))
    .sort()
}

/** Reads each run's status; a folder that is no run is a usage error. */
export async function statusesOf(dirs: readonly string[], now: number): Promise<RunStatus[]> {
  const statuses: RunStatus[] = []
  for (const dir of dirs) {
    const status = await readRunStatus(dir, now)
    if (!status) throw new UsageError(`${dir} holds no longhaul run (no progress.json). Give the --out folder of a run.`)
    statuses.push(status)
  }
  return statuses
}

export function renderStatus(status: RunStatus, now: number, events: readonly RunEvent[] = []): string {
  const text = progressText(status.snapshot, now).trimEnd().split('\n')
  // Line 1 is the state; when the owner is gone, say so instead of repeating "RUNNING".
  text[0] = status.live ? text[0]! : status.summary
  const history = events.map((e) => `    ${new Date(e.at).toISOString()}  ${e.type}${describe(e.detail)}`)
  return [`${resolve(status.dir)}`, ...text.map((line) => `  ${line}`), ...(history.length ? ['  Recent events:', ...history] : [])].join('\n')
}

function describe(detail: Readonly<Record<string, unknown>>): string {
  const parts = Object.entries(detail).map(([key, value]) => `${key} ${shown(value)}`)
  return parts.length ? ` (${parts.join(', ')})` : ''
}

/** A value of an event's details, as a person reads it: a command line as words, an object as JSON. */
function shown(value: unknown): string {
  if (typeof value === 'number') return String(Math.round(value * 10) / 10)
  if (Array.isArray(value)) return value.map(String).join(' ')
  if (value !== null && typeof value === 'object') return JSON.stringify(value)
  return String(value)
}

/** `longhaul status [DIR…]`: where each run stands, from any terminal, live or dead. */
export async function statusCommand(dirs: readonly string[], options: { json?: boolean }, io: Io): Promise<number> {
  const targets = dirs.length > 0 ? dirs : defaultRunDirs()
  if (targets.length === 0) throw new UsageError('no run here: give a run folder (the --out of `longhaul run`), or run this where ./runs holds runs')
  const now = Date.now()
  const statuses = await statusesOf(targets, now)
  if (options.json) {
    io.out(JSON.stringify(statuses.map((s) => ({ dir: resolve(s.dir), live: s.live, ownerGone: s.ownerGone, heartbeatAgeSeconds: s.heartbeatAgeSeconds, summary: s.summary, ...s.snapshot }))))
  } else {
    const rendered: string[] = []
    for (const status of statuses) rendered.push(renderStatus(status, now, await recentEvents(status.dir)))
    io.out(rendered.join('\n\n'))
  }
  return EXIT.ok
}
