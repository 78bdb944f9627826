import { parseRateLimit } from '../../job/rateLimit.ts'
import { loadPolicy } from '../../preflight/policy.ts'
import { runMapJob } from '../../work/map/runMapJob.ts'
import { EXIT } from '../exitCodes.ts'
import type { Io } from '../io.ts'
import { runDisplay } from '../render/runDisplay.ts'
import { leaseSettings, loadDatabaseDriver, printSummary } from './run.ts'

export interface WorkerCommandOptions {
  readonly run: string
  readonly store: string
  readonly out?: string
  readonly workers?: number
  /** Items in flight at once in this process. */
  readonly concurrency?: number
  readonly leaseTtl?: number
  readonly config?: string
  readonly json?: boolean
  /** The service's limit for the whole run, as `run --rate-limit` takes it; this process takes its share. @default the job's rateLimit */
  readonly rateLimit?: string
}

/**
 * `longhaul worker JOB --store URL --run ID --out DIR`: joins a run whose
 * journal is in PostgreSQL and takes ranges of it until every item is
 * committed (exit 0, with the digest), or Ctrl-C (exit 130: what it held goes
 * back to the others). Returns the exit code.
 */
export async function workerCommand(
  jobPath: string,
  options: WorkerCommandOptions,
  io: Io,
  signal?: AbortSignal,
): Promise<number> {
  loadDatabaseDriver()
  const { policy } = await loadPolicy(jobPath, options.config)
  const display = runDisplay({ stream: io.errStream, tty: io.errStream.isTTY === true })
  const result = await runMapJob({
    jobPath,
    // No --out: the run's bucket takes the shards and a temporary folder stages them (a shared-folder run refuses this, saying why).
    outDir: options.out ?? '',
    store: options.store,
    join: options.run,
    ...leaseSettings(options.leaseTtl, policy.heartbeatSeconds),
    progressEvery: policy.progressEverySeconds * 1000,
    stallAfter: policy.stallAfterSeconds * 1000,
    ...(options.workers !== undefined && { workers: options.workers }),
    ...(options.rateLimit !== undefined && { rateLimit: parseRateLimit(options.rateLimit) }),
    ...(options.concurrency !== undefined && { concurrency: options.concurrency }),
    ...(signal && { signal }),
    observer: display,
  }).finally(() => display.close())
  printSummary(result, 'items', options.json === true, io, 'the same command: the run goes on without this process')
  return result.state === 'complete' ? EXIT.ok : EXIT.interrupted
}
