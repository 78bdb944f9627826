import type { ChildProcess } from 'node:child_process'
import { createHash } from 'node:crypto'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { SqliteStore } from '../../src/store/sqlite/sqliteStore.ts'
import type { RunEvent, RunRecord } from '../../src/store/store.ts'
import { type CliResult, ROOT, startNode } from '../support/cli.ts'

export const loopFixture = (name: string): string => join(ROOT, 'test/fixtures/loops', name)
export const DESCENT = loopFixture('descent.ts')
const RUNNER = loopFixture('runLoop.ts')

/** Runs a loop job in a real child process (the runner script), as `longhaul run` will. */
export function startLoop(
  job: string,
  out: string,
  env: Record<string, string> = {},
  total?: number,
): { child: ChildProcess; done: Promise<CliResult> } {
  return startNode(['--import', 'tsx', RUNNER, job, out, ...(total === undefined ? [] : [String(total)])], env)
}

export function runLoop(
  job: string,
  out: string,
  env: Record<string, string> = {},
  total?: number,
): Promise<CliResult> {
  return startLoop(job, out, env, total).done
}

/** The run record and event log of a run directory, read through the Store interface. */
export async function readJournal(out: string): Promise<{ run: RunRecord | undefined; events: RunEvent[] }> {
  const store = SqliteStore.open(join(out, '.longhaul', 'journal.sqlite'), { readonly: true })
  try {
    return { run: await store.getRun(), events: await store.events() }
  } finally {
    await store.close()
  }
}

/** The names in data/, sorted; temp files of an unfinished write are left out. */
export function dataFiles(out: string): string[] {
  return readdirSync(join(out, 'data'))
    .filter((name) => !name.startsWith('.tmp-'))
    .sort()
}

export function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex')
}

export function finalBytes(out: string): Buffer {
  return readFileSync(join(out, 'data', 'final.bin'))
}

export const ckpt = (step: number): string => `step-${String(step).padStart(12, '0')}.ckpt`
