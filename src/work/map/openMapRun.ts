import type { MapJob } from '../../job/defineJob.ts'
import type { InputScan } from '../../job/inputs/input.ts'
import { identifyJob } from '../../run/identify.ts'
import { type JobFacts, localHome, type OpenOptions, openRunDir, type RunHome } from '../../run/openRun.ts'
import type { OpenedRun } from '../../run/role.ts'
import { folderPlace, type ShardPlace } from '../../shards/shardPlace.ts'

/** What a process needs of the map run it works on, whether it owns it or joined it. */
export interface Participation extends OpenedRun {
  readonly job: MapJob
  readonly params: unknown
  readonly seed: number
  readonly input: InputScan | undefined
  /** Where committed shards live: the run folder's data/, or the run's bucket. */
  readonly place: ShardPlace
  /** A temporary folder this process stages shards in (a bucket run joined without a folder), removed when it ends. */
  readonly scratch?: string | undefined
}

/**
 * Loads the map job, works out its identity, asks the launch gate, and opens
 * (or creates) its run (see openRunDir) in the home `homeOf` gives: by
 * default a journal file in `outDir`. A local run and a shared run's owner
 * open their run this way; only the home differs.
 */
export async function openMapRun(
  options: OpenOptions,
  homeOf: (job: JobFacts) => RunHome = (job) => localHome(options, job),
): Promise<Participation> {
  const { job, params, seed, input, identity, fingerprint } = await identifyJob(options)
  const facts: JobFacts = {
    kind: 'map',
    name: job.name,
    params,
    seed,
    identity,
    fingerprint,
    defaultTotal: job.total ?? input?.count,
  }
  const home = homeOf(facts)
  const opened = await openRunDir(options, facts, home)
  const place = home.place?.(opened.paths) ?? folderPlace(opened.paths.data)
  return { job, params, seed, input, ...opened, place }
}
