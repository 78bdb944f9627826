import { existsSync } from 'node:fs'
import { join, resolve } from 'node:path'

/** Where everything of a run lives (DESIGN §2, "A run directory"). */
export interface RunPaths {
  readonly dir: string
  readonly data: string
  readonly internal: string
  readonly journal: string
  /** A run whose journal is in PostgreSQL: which database and run (see work/map/sharedRun.ts). */
  readonly storeLink: string
  readonly quarantine: string
  /** Proof bundles and reports written by preflight. */
  readonly proofs: string
}

export const PROOFS_DIR = 'proofs'

export function runPaths(dir: string): RunPaths {
  const absolute = resolve(dir)
  const internal = join(absolute, '.longhaul')
  return {
    dir: absolute,
    data: join(absolute, 'data'),
    internal,
    journal: join(internal, 'journal.sqlite'),
    storeLink: join(internal, 'store.json'),
    quarantine: join(internal, 'quarantine'),
    proofs: join(absolute, PROOFS_DIR),
  }
}

/** True when `dir` holds a longhaul journal (SQLite). */
export function hasRun(dir: string): boolean {
  return existsSync(runPaths(dir).journal)
}

/** True when `dir` is a run's folder: its journal is in it (SQLite), or its store.json names one (PostgreSQL). */
export function isRunDir(dir: string): boolean {
  const paths = runPaths(dir)
  return existsSync(paths.journal) || existsSync(paths.storeLink)
}
