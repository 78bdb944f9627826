import { createRequire } from 'node:module'
import { basename, dirname, resolve } from 'node:path'
import { startPublishers } from '../../dashboard/publish/publishers.ts'
import { UsageError } from '../../errors.ts'
import { isLoopJob } from '../../job/defineLoop.ts'
import { loadAnyJob } from '../../job/loadJob.ts'
import { parseParamPairs } from '../../job/params.ts'
import { parseRateLimit } from '../../job/rateLimit.ts'
import { launchGate } from '../../preflight/gate.ts'
import { assertWithinPolicy, loadPolicy } from '../../preflight/policy.ts'
import type { RunObserver } from '../../run/observer.ts'
import type { RunSummary } from '../../run/summary.ts'
import { isBucketUrl } from '../../shards/bucket.ts'
import { bytes, count, duration, rate } from '../../telemetry/progressText.ts'
import type { ProgressSnapshot } from '../../telemetry/snapshot.ts'
import { type LoopRunSummary, runLoopJob } from '../../work/loop/runLoopJob.ts'
import { runMapJob } from '../../work/map/runMapJob.ts'
import { importJob } from '../../work/map/workerBundle.ts'
import { EXIT } from '../exitCodes.ts'
import type { Io } from '../io.ts'
import { runDisplay } from '../render/runDisplay.ts'

export interface RunCommandOptions {
  readonly out?: string
  readonly total?: number
  readonly workers?: number
  /** Items in flight at once in the process (async items that wait on a service). */
  readonly concurrency?: number
  readonly seed?: number
  readonly param: readonly string[]
  readonly params?: string
  readonly fresh?: boolean
  readonly checkpointEvery?: number
  readonly progressEvery?: number
  readonly stallAfter?: number
  readonly json?: boolean
  readonly skipPreflight?: boolean
  readonly config?: string
  /** Serve the dashboard while the run lives: true (port 8080) or a port. */
  readonly dashboard?: boolean | string
  readonly dashboardHost?: string
  /** false with --no-publish: the policy's publish targets are left alone. */
  readonly publish?: boolean
  /** The journal in PostgreSQL (postgres:// URL), for a run other processes join with `longhaul worker`. */
  readonly store?: string
  /** The owner lease's and claims' time to live, seconds. @default 30 */
  readonly leaseTtl?: number
  /** With --out s3://…: the local folder for progress files and shards waiting for their upload. @default runs/<job> */
  readonly local?: string
  /** `600/min`, `500/min,tokens=90000/min`: the service's limit for the whole run. @default the job's rateLimit */
  readonly rateLimit?: string
}

/** The lease settings the flags ask for: a shorter TTL brings the heartbeat down with it, to a third of the TTL at most. */
export function leaseSettings(
  leaseTtl: number | undefined,
  heartbeatSeconds: number,
): { leaseTtlMs?: number; heartbeatMs: number } {
  if (leaseTtl === undefined) return { heartbeatMs: heartbeatSeconds * 1000 }
  const leaseTtlMs = leaseTtl * 1000
  return { leaseTtlMs, heartbeatMs: Math.min(heartbeatSeconds * 1000, leaseTtlMs / 3) }
}

/** `longhaul run JOB`: runs or resumes a job, map or loop; returns the exit code. */
export async function runCommand(
  jobPath: string,
  options: RunCommandOptions,
  io: Io,
  signal?: AbortSignal,
): Promise<number> {
  const params = parseParamPairs(options.param, options.params)
  if (options.store !== undefined) loadDatabaseDriver()
  const job = await loadAnyJob(jobPath, importJob)
  const loop = isLoopJob(job)
  if (loop && options.store !== undefined)
    throw new UsageError(`${jobPath} is a loop job: only map jobs (defineJob) run across processes with --store`)
  const rateLimit = options.rateLimit === undefined ? undefined : parseRateLimit(options.rateLimit)
  if (loop && rateLimit !== undefined)
    throw new UsageError(`${jobPath} is a loop job: --rate-limit applies to the items of a map job (defineJob)`)
  if (loop && options.workers !== undefined)
    throw new UsageError(`${jobPath} is a loop job: its steps run one after another, so --workers does not apply`)
  if (loop && options.concurrency !== undefined)
    throw new UsageError(`${jobPath} is a loop job: its steps run one after another, so --concurrency does not apply`)
  // --out s3://bucket/prefix: the shards go to the bucket, the progress files to a local folder.
  const shards = options.out !== undefined && isBucketUrl(options.out) ? options.out : undefined
  if (shards !== undefined && options.store === undefined) {
    throw new UsageError(
      `--out ${shards}: shards go to a bucket only in a run across machines; give --store postgres://… too, or a folder as --out`,
    )
  }
  if (options.local !== undefined && shards === undefined)
    throw new UsageError('--local applies only with --out s3://…: otherwise --out is the local folder')
  const outDir = shards !== undefined ? (options.local ?? `runs/${job.name}`) : (options.out ?? `runs/${job.name}`)
  const loaded = await loadPolicy(jobPath, options.config)
  const { policy } = loaded
  assertWithinPolicy(options, loaded)
  const gate = launchGate({
    policy: loaded,
    skip: options.skipPreflight === true,
    preflightCommand: (facts) => preflightCommandLine(jobPath, facts.total, outDir, options),
  })
  const dashboard =
    options.dashboard === undefined
      ? undefined
      : // The dashboard's server (hono) loads only for a run that serves it.
        await (await import('./serve.ts')).openDashboard(
          dirname(resolve(outDir)),
          {
            ...(typeof options.dashboard === 'string' && { port: dashboardPort(options.dashboard) }),
            ...(options.dashboardHost !== undefined && { host: options.dashboardHost }),
          },
          io,
        )
  const display = runDisplay({ stream: io.errStream, tty: io.errStream.isTTY === true })
  // Publishing runs in the background: it never slows or fails the run, and says so once when a target fails.
  const publishers = startPublishers(options.publish === false ? [] : policy.publish, {
    onNote: (message) => display.note?.(message),
  })
  const common = {
    jobPath,
    outDir,
    params,
    gate,
    ...leaseSettings(options.leaseTtl, policy.heartbeatSeconds),
    progressEvery: (options.progressEvery ?? policy.progressEverySeconds) * 1000,
    stallAfter: (options.stallAfter ?? policy.stallAfterSeconds) * 1000,
    ...(options.total !== undefined && { total: options.total }),
    ...(options.seed !== undefined && { seed: options.seed }),
    ...(options.fresh && { fresh: true }),
    ...(options.checkpointEvery !== undefined && { checkpointEvery: options.checkpointEvery * 1000 }),
    ...(signal && { signal }),
    observer: {
      ...display,
      progress: (snapshot: ProgressSnapshot, reason: Parameters<NonNullable<RunObserver['progress']>>[1]) => {
        display.progress?.(snapshot, reason)
        publishers.observer.progress(snapshot, reason)
      },
    },
  }
  const running: Promise<RunSummary | LoopRunSummary> = loop
    ? runLoopJob(common)
    : runMapJob({
        ...common,
        ...(options.workers !== undefined && { workers: options.workers }),
        ...(options.concurrency !== undefined && { concurrency: options.concurrency }),
        ...(options.store !== undefined && { store: options.store }),
        ...(shards !== undefined && { shards }),
        ...(rateLimit !== undefined && { rateLimit }),
      })
  const result = await running.finally(async () => {
    // Publishers first, so a last note about them still goes through the display.
    await publishers.close()
    display.close()
    await dashboard?.close()
  })
  printSummary(result, loop ? 'steps' : 'items', options.json === true, io)
  return result.state === 'complete' ? EXIT.ok : EXIT.interrupted
}

/** The closing summary of `run` and `worker`. */
export function printSummary(
  result: RunSummary | LoopRunSummary,
  unit: 'items' | 'steps',
  json: boolean,
  io: Io,
  resumeHint = `the same command (${basename(process.argv[1] ?? 'longhaul')} run … again)`,
): void {
  if (json) {
    io.out(JSON.stringify(result))
    return
  }
  const head = result.state === 'complete' ? 'COMPLETE' : 'INTERRUPTED'
  io.out(
    [
      `${head}  ${result.job} → ${result.dir}`,
      `  ${unit.padEnd(12)} ${count(result.committed)} / ${count(result.total)} (${count(result.committedThisSession)} this session)`,
      `  wall time    ${duration(result.wallMs / 1000)}`,
      `  ${`${unit}/s`.padEnd(12)} ${rate(result.itemsPerSecond)}`,
      `  written      ${bytes(result.bytesWritten)}`,
      ...('finalFile' in result && result.finalFile ? [`  final state  ${result.finalFile}`] : []),
      result.digest ? `  digest       ${result.digest}` : `  resume with  ${resumeHint}`,
    ].join('\n'),
  )
}

function dashboardPort(text: string): number {
  const port = Number(text)
  if (!Number.isInteger(port) || port < 0 || port > 65_535)
    throw new UsageError(`--dashboard takes a port from 0 to 65535, got '${text}'`)
  return port
}

/** The preflight command that proves what this run asks for, as the user would type it. */
export function preflightCommandLine(
  jobPath: string,
  target: number,
  outDir: string,
  options: Pick<RunCommandOptions, 'seed' | 'param' | 'params' | 'config' | 'concurrency'>,
): string {
  const words = ['npx', 'longhaul', 'preflight', jobPath, '--target', String(target), '--out', outDir]
  if (options.seed !== undefined) words.push('--seed', String(options.seed))
  for (const pair of options.param) words.push('--param', pair)
  if (options.params !== undefined) words.push('--params', options.params)
  if (options.config !== undefined) words.push('--config', options.config)
  if (options.concurrency !== undefined) words.push('--concurrency', String(options.concurrency))
  return words.map(shellWord).join(' ')
}

function shellWord(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`
}

/**
 * The PostgreSQL driver is required when the run's database is first opened, after the job is loaded; by then a
 * TypeScript job has registered tsx, whose hooks see every file required from then on (pg took half again its own
 * load time). Required here first, it is already in the require cache, where the store's own require finds it.
 */
export function loadDatabaseDriver(): void {
  createRequire(import.meta.url)('pg')
}
