import { spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { InterruptedError } from '../errors.ts'
import type { RunSummary } from '../run/summary.ts'
import { PROGRESS_JSON, PROGRESS_TXT } from '../telemetry/progressFiles.ts'
import type { ProgressSnapshot } from '../telemetry/snapshot.ts'

const BIN = fileURLToPath(new URL('../../bin/longhaul.mjs', import.meta.url))

/** The fields DESIGN §2 says progress.json holds at least. */
export const REQUIRED_PROGRESS_FIELDS = [
  'job',
  'runId',
  'state',
  'done',
  'total',
  'percent',
  'itemsPerSecond',
  'etaSeconds',
  'etaLow',
  'etaHigh',
  'startedAt',
  'updatedAt',
  'heartbeatAt',
  'lastCheckpointAt',
  'checkpoints',
  'workers',
] as const

/** What was seen of progress.json (and the process's memory) at one moment. */
export interface ProgressSample {
  readonly at: number
  readonly state: string
  readonly done: number
  /** Items (a loop: steps) finished but not yet committed. */
  readonly inFlight: number
  /** now − updatedAt, seconds. */
  readonly staleSeconds: number
  /** now − heartbeatAt, seconds. */
  readonly heartbeatAgeSeconds: number
  readonly stallAfterSeconds: number | null
  readonly refreshSeconds: number | null
  readonly missingFields: readonly string[]
  /** Resident memory of the whole process (all its worker threads), bytes; null where /proc is missing. */
  readonly rssBytes: number | null
}

export interface ChildRunOptions {
  readonly jobPath: string
  readonly outDir: string
  readonly total: number
  readonly workers?: number
  /** Items in flight per process (`--concurrency`). @default the job's */
  readonly concurrency?: number
  readonly seed?: number
  readonly params?: unknown
  readonly config?: string
  /** The run SIGKILLs itself at this commit, after the shard is durable and before the journal records it. */
  readonly crashAtCommit?: number
  /** Which fault point crashAtCommit counts: a map job's commits, or a loop's checkpoints. @default 'commit' */
  readonly crashPoint?: 'commit' | 'loop-checkpoint'
  /** A loop checkpoints every this many steps as well (LONGHAUL_LOOP_CHECKPOINT_STEPS). */
  readonly loopCheckpointSteps?: number
  /** SIGKILL the run this long after its first commit (so the kill lands while it works, not while it starts), if it is still running. */
  readonly killAfterMs?: number
  readonly sampleEveryMs?: number
  /** Aborting it stops the child the way Ctrl-C stops a run (SIGTERM: commit, exit 130). */
  readonly signal?: AbortSignal
  /** Called with the committed count whenever it moves (from progress.json). */
  readonly onProgress?: (done: number, total: number) => void
}

export interface ChildRunResult {
  /** The run's folder. */
  readonly outDir: string
  /** Ended by SIGKILL (a crash that was asked for). */
  readonly killed: boolean
  /** How the kill came: the self-kill at a commit, or the timer. */
  readonly killedBy: 'commit' | 'timer' | null
  readonly exitCode: number | null
  readonly summary: RunSummary | undefined
  readonly stderr: string
  readonly wallMs: number
  readonly samples: readonly ProgressSample[]
  /** PROGRESS.txt's first line after the process ended. */
  readonly finalTextState: string | null
  readonly finalSnapshot: ProgressSnapshot | undefined
}

/**
 * Runs `longhaul run` on the job in a child process, as a user would, sampling
 * its progress.json and memory while it lives; optionally SIGKILLs it.
 */
export async function childRun(options: ChildRunOptions): Promise<ChildRunResult> {
  // Preflight's runs are rehearsals: they do not publish to the team's webhooks and buckets.
  const args = [
    BIN,
    'run',
    options.jobPath,
    '--out',
    options.outDir,
    '--total',
    String(options.total),
    '--json',
    '--skip-preflight',
    '--no-publish',
  ]
  if (options.workers !== undefined) args.push('--workers', String(options.workers))
  if (options.concurrency !== undefined) args.push('--concurrency', String(options.concurrency))
  if (options.seed !== undefined) args.push('--seed', String(options.seed))
  if (options.params !== undefined) args.push('--params', JSON.stringify(options.params))
  if (options.config !== undefined) args.push('--config', options.config)
  // Worker threads report what they retain after a full collection (node --expose-gc), for the memory check: a shard's
  // buffers are let go once it is committed, so the runs are made as the real run will be (its pace is the projection's).
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    NO_COLOR: '1',
    LONGHAUL_MEASURE_RETAINED: '1',
  }
  if (options.crashAtCommit !== undefined)
    env.LONGHAUL_CRASH_AT = `${options.crashPoint ?? 'commit'}:${options.crashAtCommit}`
  else delete env.LONGHAUL_CRASH_AT
  if (options.loopCheckpointSteps !== undefined)
    env.LONGHAUL_LOOP_CHECKPOINT_STEPS = String(options.loopCheckpointSteps)
  else delete env.LONGHAUL_LOOP_CHECKPOINT_STEPS

  if (options.signal?.aborted)
    throw new InterruptedError('preflight interrupted; no proof was written. Run it again to prove the job.')
  const started = Date.now()
  const child = spawn(process.execPath, ['--expose-gc', ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()))
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
  const samples: ProgressSample[] = []
  const sampler = setInterval(() => {
    const sample = sampleProgress(options.outDir, child.pid)
    if (!sample) return
    armKiller(sample.done)
    if (sample.done !== samples.at(-1)?.done) options.onProgress?.(sample.done, options.total)
    samples.push(sample)
  }, options.sampleEveryMs ?? 100)
  let timerKilled = false
  let killer: NodeJS.Timeout | undefined
  let doneAtStart: number | undefined
  const armKiller = (done: number): void => {
    doneAtStart ??= done
    if (options.killAfterMs === undefined || killer || done <= doneAtStart) return
    killer = setTimeout(() => {
      timerKilled = child.exitCode === null && child.kill('SIGKILL')
    }, options.killAfterMs)
  }
  const stop = (): void => void child.kill('SIGTERM')
  options.signal?.addEventListener('abort', stop, { once: true })
  const { code, signal } = await new Promise<{ code: number | null; signal: NodeJS.Signals | null }>(
    (resolve, reject) => {
      child.on('error', reject)
      child.on('close', (code, signal) => resolve({ code, signal }))
    },
  ).finally(() => {
    clearInterval(sampler)
    if (killer) clearTimeout(killer)
    options.signal?.removeEventListener('abort', stop)
  })
  const killed = signal === 'SIGKILL'
  let summary: RunSummary | undefined
  try {
    summary = code === 0 || code === 130 ? (JSON.parse(stdout.trim().split('\n').at(-1)!) as RunSummary) : undefined
  } catch {
    summary = undefined
  }
  return {
    outDir: options.outDir,
    killed,
    killedBy: killed ? (timerKilled ? 'timer' : 'commit') : null,
    exitCode: code,
    summary,
    stderr,
    wallMs: Date.now() - started,
    samples,
    finalTextState: readOr(join(options.outDir, PROGRESS_TXT), (text) => text.split('\n')[0]!.split(' ')[0]!),
    finalSnapshot:
      readOr(join(options.outDir, PROGRESS_JSON), (text) => JSON.parse(text) as ProgressSnapshot) ?? undefined,
  }
}

/** An onProgress that says where a long child run stands, at most every `everyMs`. */
export function progressLines(
  step: ((message: string) => void) | undefined,
  label: string,
  everyMs = 5_000,
): ((done: number, total: number) => void) | undefined {
  if (!step) return undefined
  let last = Date.now()
  return (done, total) => {
    if (Date.now() - last < everyMs) return
    last = Date.now()
    step(`  ${label}: ${done.toLocaleString('en-US')} / ${total.toLocaleString('en-US')} committed`)
  }
}

function sampleProgress(dir: string, pid: number | undefined): ProgressSample | undefined {
  const at = Date.now()
  const p = readOr(join(dir, PROGRESS_JSON), (text) => JSON.parse(text) as Record<string, unknown>)
  if (!p) return undefined
  const seconds = (iso: unknown): number => (typeof iso === 'string' ? (at - Date.parse(iso)) / 1000 : Number.NaN)
  return {
    at,
    state: String(p.state),
    done: Number(p.done),
    inFlight: typeof p.inFlight === 'number' ? p.inFlight : 0,
    staleSeconds: seconds(p.updatedAt),
    heartbeatAgeSeconds: seconds(p.heartbeatAt),
    stallAfterSeconds: typeof p.stallAfterSeconds === 'number' ? p.stallAfterSeconds : null,
    refreshSeconds: typeof p.refreshSeconds === 'number' ? p.refreshSeconds : null,
    missingFields: REQUIRED_PROGRESS_FIELDS.filter((field) => !(field in p)),
    rssBytes: pid === undefined ? null : residentMemory(pid),
  }
}

function residentMemory(pid: number): number | null {
  const kB = readOr(`/proc/${pid}/status`, (text) => /VmRSS:\s+(\d+) kB/.exec(text)?.[1])
  return kB ? Number(kB) * 1024 : null
}

function readOr<T>(path: string, parse: (text: string) => T): T | null {
  try {
    return parse(readFileSync(path, 'utf8'))
  } catch {
    return null
  }
}
