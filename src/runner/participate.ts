import { UsageError } from '../errors.ts'
import type { MapJob } from '../job/defineJob.ts'
import type { InputScan } from '../job/inputs/input.ts'
import type { OwnerLease, RunRecord, Store } from '../store/store.ts'
import type { LaunchClearance } from '../telemetry/snapshot.ts'
import { identifyJob, type LaunchGate, type RunTarget } from './identify.ts'
import type { RunObserver } from './observer.ts'
import { openRun } from './openRun.ts'
import type { RunPaths } from './runDir.ts'
import { folderPlace, type ShardPlace } from './shardPlace.ts'
import { joinSharedRun, type OutageOptions, openSharedRunDir } from './sharedRun.ts'

/** What a process needs of the run it works on, whether it owns it or joined it. */
export interface Participation {
  readonly job: MapJob
  readonly params: unknown
  readonly seed: number
  readonly input: InputScan | undefined
  readonly store: Store
  readonly paths: RunPaths
  readonly run: RunRecord
  /** Held by the run's owner; a worker that joined holds none. */
  readonly lease: OwnerLease | undefined
  readonly resumed: boolean
  readonly clearance: LaunchClearance | undefined
  readonly movedAsideTo?: string | undefined
  /** Where committed shards live: the run folder's data/, or the run's bucket. */
  readonly place: ShardPlace
  /** A temporary folder this process stages shards in (a bucket run joined without a folder), removed when it ends. */
  readonly scratch?: string | undefined
}

/** Which run a process works on: a single-machine run by default; `store` shares it; `join` joins one as a worker. */
export interface ParticipationTarget extends RunTarget {
  readonly gate?: LaunchGate
  /** The journal's postgres:// URL. */
  readonly store?: string
  /** The id of the run to join. */
  readonly join?: string
  /** s3://bucket/prefix: a shared run's shards go to this bucket (outDir keeps the progress files and stages uploads). */
  readonly shards?: string
  /** Told when a shared run's database stops answering, and when it answers again. */
  readonly observer?: RunObserver
}

/** Opens the run as `options` ask: a single-machine run, the owner of a shared run, or a worker joining one. */
export async function participate(
  options: ParticipationTarget,
  leaseTtlMs: number,
  now: () => number,
): Promise<Participation> {
  const { store: storeUrl, join } = options
  if (join !== undefined) {
    if (storeUrl === undefined)
      throw new UsageError('a worker joins a run whose journal is in PostgreSQL: give its --store URL')
    const outage = waitForDatabase(leaseTtlMs, options.observer)
    const joined = await joinSharedRun({
      jobPath: options.jobPath,
      outDir: options.outDir === '' ? undefined : options.outDir,
      storeUrl,
      runId: join,
      outage,
    })
    return { ...joined, lease: undefined, resumed: true, clearance: undefined }
  }
  if (options.shards !== undefined && storeUrl === undefined) {
    throw new UsageError(
      'shards go to a bucket only in a run across machines: give --store postgres://… too (a single-machine run writes to a folder)',
    )
  }
  if (storeUrl === undefined) {
    const opened = await openRun({ ...options, leaseTtlMs, now })
    return { ...opened, place: folderPlace(opened.paths.data) }
  }
  const { job, params, seed, input, identity, fingerprint } = await identifyJob(options)
  const opened = await openSharedRunDir(
    { ...options, storeUrl, leaseTtlMs, now, outage: waitForDatabase(leaseTtlMs, options.observer) },
    {
      kind: 'map',
      name: job.name,
      params,
      seed,
      identity,
      fingerprint,
      defaultTotal: job.total ?? input?.count,
    },
  )
  return { job, params, seed, input, ...opened }
}

/**
 * A shared run goes on through a short outage of its database (a restart, a
 * failover): each call waits for it for up to the lease TTL, and the observer
 * hears of it once. Past the TTL this process's claims may have been retaken,
 * and its commits of them are refused (fencing), so the wait ends there: the
 * call throws StoreUnavailableError, and the run's committed work stays.
 */
function waitForDatabase(leaseTtlMs: number, observer: RunObserver | undefined): OutageOptions {
  const seconds = (ms: number): string => (ms / 1000).toFixed(1)
  return {
    waitForServerMs: leaseTtlMs,
    onOutage: (change) =>
      observer?.note?.(
        change.state === 'unreachable'
          ? `the journal's database is unreachable; retrying for up to ${seconds(change.waitMs)} s (${change.reason})…`
          : `the journal's database answers again, after ${seconds(change.afterMs)} s; going on`,
      ),
  }
}
