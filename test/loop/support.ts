import type { ChildProcess } from 'node:child_process'
import { createHash } from 'node:crypto'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { UsageError } from '../../src/errors.ts'
import { SqliteStore } from '../../src/journal/sqlite/sqliteStore.ts'
import type { RunEvent, RunRecord } from '../../src/journal/store.ts'
import { runLoopJob } from '../../src/work/loop/runLoopJob.ts'
import { type CliResult, ROOT, startNode } from '../support/cli.ts'

export const loopFixture = (name: string): string => join(ROOT, 'test/fixtures/loops', name)
export const DESCENT = loopFixture('descent.ts')
const RUNNER = loopFixture('runLoop.mjs')

/** Runs a loop job in a real child process (the runner script), as `longhaul run` will. */
export function startLoop(
  job: string,
  out: string,
  env: Record<string, string> = {},
  total?: number,
): { child: ChildProcess; done: Promise<CliResult> } {
  return startNode([RUNNER, job, out, ...(total === undefined ? [] : [String(total)])], env)
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

/**
 * The variables the fixture reads at import that this process keeps using once the job is loaded (its
 * checkpointEvery, keep, best): the loop's own thread loads the job afresh, with the environment of the moment, at
 * every run; this thread loads it once per test file. Every run of a file made in this process must agree on them.
 */
const LOADED_ONCE = ['CKPT_STEPS', 'CKPT_MS', 'KEEP', 'BEST'] as const
/** The runner script's variables, passed to the engine as options rather than set in the environment. */
const AS_OPTIONS = new Set(['LOOP_PARAMS', 'LOOP_SEED', 'PROGRESS_EVERY_MS', 'HEARTBEAT_MS'])
let loadedWith: string | undefined
let active: { env: string; saved: Record<string, string | undefined> } | undefined
let activeRuns = 0

/**
 * Runs `run` (which starts loop runs in this process) with `env` set for the job: the variables the runner script
 * passes as options are left out. Runs at the same time must share one environment.
 */
export async function withLoopEnv<T>(env: Record<string, string>, run: () => Promise<T>): Promise<T> {
  const knobs = JSON.stringify(LOADED_ONCE.map((key) => env[key]))
  if (loadedWith !== undefined && knobs !== loadedWith) {
    throw new Error(
      `${LOADED_ONCE.join(', ')} must be the same for every loop run of a test file made in this process (the job was loaded with ${loadedWith}, got ${knobs}); start this one in a child process (runLoop)`,
    )
  }
  loadedWith = knobs
  const forJob = Object.fromEntries(Object.entries(env).filter(([key]) => !AS_OPTIONS.has(key)))
  const whole = JSON.stringify(Object.entries(forJob).sort())
  if (active && active.env !== whole) throw new Error('loop runs made at the same time must share one environment')
  if (!active) {
    active = { env: whole, saved: Object.fromEntries(Object.keys(forJob).map((key) => [key, process.env[key]])) }
    Object.assign(process.env, forJob)
  }
  activeRuns++
  try {
    return await run()
  } finally {
    if (--activeRuns === 0) {
      for (const [key, value] of Object.entries(active!.saved)) {
        if (value === undefined) delete process.env[key]
        else process.env[key] = value
      }
      active = undefined
    }
  }
}

/**
 * Runs a loop job to its end in this process (the engine itself, `runLoopJob`, as the runner script does), for a
 * test that neither kills nor signals it: the same result as `runLoop` (the summary as JSON on stdout, notes and
 * the error on stderr, the runner's exit code) without a process start. LOOP_PARAMS, LOOP_SEED, PROGRESS_EVERY_MS
 * and HEARTBEAT_MS become options, as in the runner; the rest of `env` is set around the run (withLoopEnv).
 */
export function runLoopHere(
  job: string,
  out: string,
  env: Record<string, string> = {},
  total?: number,
): Promise<CliResult> {
  return withLoopEnv(env, async () => {
    let stderr = ''
    try {
      const summary = await runLoopJob({
        jobPath: job,
        outDir: out,
        progressEvery: Number(env.PROGRESS_EVERY_MS ?? 1_000),
        ...(env.HEARTBEAT_MS && { heartbeatMs: Number(env.HEARTBEAT_MS) }),
        ...(total !== undefined && { total }),
        ...(env.LOOP_PARAMS && { params: JSON.parse(env.LOOP_PARAMS) as Record<string, unknown> }),
        ...(env.LOOP_SEED && { seed: Number(env.LOOP_SEED) }),
        observer: {
          note: (message) => (stderr += `note: ${message}\n`),
          started: (start) => (stderr += `started at step ${start.committed} of ${start.total}\n`),
        },
      })
      const code = summary.state === 'complete' ? 0 : 130
      return { code, signal: null, stdout: `${JSON.stringify(summary)}\n`, stderr }
    } catch (error) {
      stderr += `longhaul: ${(error as Error).message}\n`
      return { code: error instanceof UsageError ? 2 : 1, signal: null, stdout: '', stderr }
    }
  })
}
