import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import { fileURLToPath } from 'node:url'
import { afterAll, afterEach, expect, onTestFinished } from 'vitest'

export const ROOT = fileURLToPath(new URL('../..', import.meta.url))
export const BIN = join(ROOT, 'bin/longhaul.mjs')
export const fixture = (name: string): string => join(ROOT, 'test/fixtures/jobs', name)

/**
 * The folders made outside a test (at a file's top level or in a hook), removed once the file's tests and hooks are
 * done: registered here, at the top level of the file that imports this module, the hook runs after the file's own
 * afterAll hooks (an afterAll registered from inside a hook would never run).
 */
const fileDirs = new Set<string>()
afterAll(() => {
  for (const dir of fileDirs) rmSync(dir, { recursive: true, force: true })
  fileDirs.clear()
})

/**
 * Every child process started through this module that has not ended: those still alive once the file's tests and
 * hooks are done (a test that timed out or failed before stopping them) are killed, before their folders go (hooks
 * after all run last-registered first), so that none writes into a removed folder or outlives the file.
 */
const running = new Set<ChildProcess>()
afterAll(() => {
  for (const child of running) {
    child.kill('SIGCONT')
    child.kill('SIGKILL')
  }
  running.clear()
})

/** A fresh temp folder, removed after the test that made it (or, made outside a test, after the test file). */
export function tempDir(prefix = 'longhaul-test-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix))
  try {
    onTestFinished(() => rmSync(dir, { recursive: true, force: true }))
  } catch {
    // Not inside a test: at the file's top level or in a hook.
    fileDirs.add(dir)
  }
  return dir
}

/**
 * A list to push the test's child processes onto: after each test, any still
 * alive (stopped or not) is killed, so a failed assertion leaves none behind.
 */
export function killedAfterEach(): ChildProcess[] {
  const started: ChildProcess[] = []
  afterEach(() => {
    for (const child of started.splice(0)) {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGCONT')
        child.kill('SIGKILL')
      }
    }
  })
  return started
}

export interface CliResult {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
  readonly stdout: string
  readonly stderr: string
}

/** Starts `longhaul ARGS` as a real child process. */
export function startCli(
  args: readonly string[],
  env: Record<string, string> = {},
): { child: ChildProcess; done: Promise<CliResult> } {
  return startNode([BIN, ...args], env)
}

/** Starts `node ARGS` from the repository root as a real child process, its output collected. */
export function startNode(
  args: readonly string[],
  env: Record<string, string> = {},
): { child: ChildProcess; done: Promise<CliResult> } {
  const child = spawn(process.execPath, [...args], {
    cwd: ROOT,
    env: { ...process.env, NO_COLOR: '1', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  running.add(child)
  child.on('exit', () => running.delete(child))
  let stdout = ''
  let stderr = ''
  child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()))
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
  const done = new Promise<CliResult>((resolve, reject) => {
    child.on('error', reject)
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }))
  })
  return { child, done }
}

/** Runs `longhaul ARGS` to the end. */
export function runCli(args: readonly string[], env: Record<string, string> = {}): Promise<CliResult> {
  return startCli(args, env).done
}

/**
 * Runs `longhaul ARGS` to the end in this process: the CLI's own `main` (the command tree, its messages and exit
 * codes, what bin/longhaul.mjs runs) with its output collected, without the start of a process (about a second of
 * CPU each). For a command the test neither signals nor kills, whose environment is this process's: checks of what
 * `verify`, `status` or a refused command say. Its `signal` is never aborted, so it installs no signal handler.
 */
export async function runCliHere(args: readonly string[], env: Record<string, string> = {}): Promise<CliResult> {
  return await withEnv(env, () => mainHere(args))
}

/**
 * Runs `work` in this process with `env` set until it settles, then puts the environment back: a run's worker threads
 * and processes take a copy of this process's environment when they start.
 */
export async function withEnv<T>(env: Record<string, string>, work: () => Promise<T>): Promise<T> {
  const saved = Object.fromEntries(Object.keys(env).map((name) => [name, process.env[name]]))
  Object.assign(process.env, env)
  try {
    return await work()
  } finally {
    for (const [name, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[name]
      else process.env[name] = value
    }
  }
}

async function mainHere(args: readonly string[]): Promise<CliResult> {
  // Imported here, not at the top: most test files use this module without the CLI.
  const { main } = await import('../../src/cli/main.ts')
  let stdout = ''
  let stderr = ''
  const line = (text: string): string => (text.endsWith('\n') ? text : `${text}\n`)
  const errStream = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      stderr += chunk.toString()
      callback()
    },
  }) as unknown as NodeJS.WriteStream
  const io = {
    out: (text: string) => (stdout += line(text)),
    err: (text: string) => (stderr += line(text)),
    errStream,
    outIsTTY: false,
  }
  const code = await main(args, io, new AbortController().signal)
  return { code, signal: null, stdout, stderr }
}

/**
 * The pace of a run of test/fixtures/jobs/squares.ts: while the test holds it, each item takes `itemMs` (a process
 * alone takes `itemMs` × total), so processes started later still find work however slowly they start; once the test
 * has seen what it waited for, it releases the run and the rest goes at full speed. Time is given to the run when a
 * test needs it, not slept through.
 */
export interface Pace {
  /** The environment of every process of the run: ITEM_MS and PACE_FILE. */
  readonly env: Record<string, string>
  release(): void
}

export function pace(itemMs = 10): Pace {
  const file = join(tempDir(), 'pace')
  writeFileSync(file, '')
  return { env: { ITEM_MS: String(itemMs), PACE_FILE: file }, release: () => rmSync(file, { force: true }) }
}

/** True when the full (long) torture and scale tests were asked for: `npm run test:long`. */
export const LONG = process.env.LONGHAUL_LONG === '1'

/** Polls `probe` every 50 ms until it returns something other than undefined; fails after `timeoutMs`, naming `what`. */
export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined> | T | undefined,
  timeoutMs = 60_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = await probe()
    if (value !== undefined) return value
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

/**
 * The dataset digest of `total` items of `job` made by one process with a
 * SQLite journal in `dir`: what every shared or crashed run of it must end with.
 * Made in this process (the engine itself, at full speed: ITEM_MS is not set here, and an item's bytes do not depend
 * on how long it takes), which saves a CLI start per reference.
 */
export async function referenceDigest(job: string, total: number, dir: string): Promise<string> {
  // Imported here, not at the top: most test files use this module without the engine.
  const { runMapJob } = await import('../../src/index.ts')
  const reference = await runMapJob({ jobPath: job, outDir: dir, total, workers: 1 })
  if (reference.state !== 'complete' || !reference.digest) {
    throw new Error(`the reference run of ${job} ended ${reference.state}, without a digest`)
  }
  return reference.digest
}

/** `longhaul verify DIR --json` exits 0 and finds every item once, nothing stray, and the reference digest. */
export async function expectVerifiedComplete(
  dir: string,
  total: number,
  digest: string,
  env: Record<string, string> = {},
): Promise<void> {
  // In this process where verify needs nothing from its environment (a bucket's endpoint and keys it does).
  const args = ['verify', dir, '--json']
  const verified = Object.keys(env).length === 0 ? await runCliHere(args) : await runCli(args, env)
  expect(verified.code, verified.stderr).toBe(0)
  expect(JSON.parse(verified.stdout)).toMatchObject({
    complete: true,
    items: total,
    missing: 0,
    duplicates: 0,
    corrupt: 0,
    stray: [],
    digest,
  })
}
