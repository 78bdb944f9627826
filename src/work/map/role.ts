/**
 * What differs between the processes that work on a map run: the owner of a
 * run on one machine (local), the owner of a run shared by several processes
 * (owner), and a process that joined a shared run (worker). The map runner
 * does the same steps in every process and asks the role at each one where
 * they differ: who opens the run and takes its owner lease, who reconciles its
 * folder, who writes its progress files and reader index, where a worker's
 * scratch goes, when "nothing to claim" means "done", and what a process
 * leaves behind when it stops or fails.
 */
import { rmSync } from 'node:fs'
import { UsageError } from '../../errors.ts'
import type { Store } from '../../journal/store.ts'
import type { LaunchGate, RunTarget } from '../../run/identify.ts'
import type { RunObserver } from '../../run/observer.ts'
import { type RunRole, recordEnding, localRole as runLocalRole } from '../../run/role.ts'
import { OWNER } from '../../run/startSession.ts'
import { type Reconciled, type RunNaming, reconcile, removeUnrecordedFiles } from '../../shards/recovery.ts'
import { openMapRun, type Participation } from './openMapRun.ts'
import { joinCommand, joinSharedRun, type OutageOptions, participantName, sharedHome } from './sharedRun.ts'

export type { Participation } from './openMapRun.ts'

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

/** A process's part in a map run: the run role (run/role.ts), and where a map run's processes differ besides. */
export interface Role extends RunRole<Participation> {
  /** Who else may have retaken a range this process held past its lease. */
  readonly retakenBy: string
  /** Brings the journal, claims and shards in line before work starts (recovery.ts). */
  reconcile(open: Participation, naming: RunNaming): Promise<Reconciled>
  /** A note once the run is open; undefined for none. */
  welcome(open: Participation): string | undefined
  /** With nothing in flight and nothing to claim: whether every item is committed, and the total as the journal has it (an owner may grow it). */
  idle(store: Store, total: number): Promise<{ readonly done: boolean; readonly total: number }>
  /** Once every item is committed: removes what dead or fenced processes left; returns the foreign files found. */
  tidy(open: Participation, naming: RunNaming): Promise<readonly string[]>
}

/** The role `target` asks for: a single-machine run, the owner of a shared run, or a worker joining one. */
export function roleOf(target: ParticipationTarget): Role {
  const { store: storeUrl, join } = target
  if (join !== undefined && storeUrl === undefined)
    throw new UsageError('a worker joins a run whose journal is in PostgreSQL: give its --store URL')
  if (target.shards !== undefined && storeUrl === undefined) {
    throw new UsageError(
      'shards go to a bucket only in a run across machines: give --store postgres://… too (a single-machine run writes to a folder)',
    )
  }
  if (storeUrl === undefined) return localRole(target)
  return join === undefined ? ownerRole(target, storeUrl) : workerRole(target, storeUrl, join)
}

/**
 * The owner of a run on one machine: every claim in the journal is its own,
 * so claims an earlier session left go back at once, nothing to claim means
 * done, and a file the journal does not record is debris.
 */
function localRole(target: ParticipationTarget): Role {
  return {
    ...runLocalRole(OWNER, ({ leaseTtlMs, now }) => openMapRun({ ...target, leaseTtlMs, now })),
    close: closeParticipation,
    retakenBy: 'by this run',
    async reconcile(open, naming) {
      await open.store.releaseClaimsOf(OWNER)
      return await reconcile(open.store, open.paths, open.place, { owner: true, shared: false }, naming)
    },
    welcome: () => undefined,
    idle: async (_store, total) => ({ done: true, total }),
    tidy: async () => [],
  }
}

/** What a process of a map run lets go of besides its journal: the bucket's client, its scratch folder. */
function closeParticipation(open: Participation): void {
  open.place.close()
  if (open.scratch !== undefined) rmSync(open.scratch, { recursive: true, force: true })
}

/**
 * What the owner of a shared run and a worker that joined it have in common:
 * other processes claim and commit too, so "nothing to claim" is not "done"
 * and their files are not debris until every item is committed; one process
 * failing or leaving does not end the run, its claims go back to the others.
 */
function sharedParts(): Omit<Role, 'kind' | 'open' | 'reconcile' | 'welcome' | 'session'> {
  const me = participantName()
  return {
    me,
    retakenBy: 'by another process',
    close: closeParticipation,
    async idle(store, total) {
      const now = (await store.getRun())?.total ?? total
      return { done: (await store.committedItems()) >= now, total: now }
    },
    async tidy(open, naming) {
      // Every item is committed, so a file the journal does not record is debris of a process that died or was fenced.
      return (await removeUnrecordedFiles(open.store, open.place, naming)).foreign
    },
    async end(leaving, ending) {
      const { open, progress, committedHere, countOthers, now } = leaving
      if (ending.state === 'complete') {
        // Whichever process gets here first records the end; the others find it recorded.
        await countOthers()
        return await recordEnding(leaving, ending)
      }
      // The run goes on with the processes still in it: only this one leaves, its claims released for them.
      await open.store.releaseClaimsOf(me)
      await open.store.addEvent(
        'left',
        { worker: me, committed: committedHere, ...(ending.detail.forced && { forced: true }) },
        now(),
      )
      await countOthers()
      await progress?.end('interrupted')
    },
    async failed({ open, progress, now }, error) {
      // One process failing does not fail a shared run: the others go on, and the journal says who failed and why.
      await open.store.addEvent('process-failed', { worker: me, error: error.message }, now()).catch(() => undefined)
      progress?.stop()
      // Whatever this process held goes back at once to the others, rather than after the TTL.
      await open.store.releaseClaimsOf(me).catch(() => undefined)
    },
  }
}

/** The owner of a shared run: opens it in the database (sharedHome), reconciles it, writes its progress files. */
function ownerRole(target: ParticipationTarget, storeUrl: string): Role {
  const parts = sharedParts()
  return {
    ...parts,
    kind: 'owner',
    open: ({ leaseTtlMs, now }) =>
      openMapRun({ ...target, leaseTtlMs, now }, () =>
        sharedHome({
          ...target,
          storeUrl,
          shards: target.shards,
          leaseTtlMs,
          now,
          outage: waitForDatabase(leaseTtlMs, target.observer),
        }),
      ),
    reconcile: (open, naming) => reconcile(open.store, open.paths, open.place, { owner: true, shared: true }, naming),
    welcome: ({ run, place }) =>
      `run ${run.runId}${place.kind === 'bucket' ? ` (shards in ${place.where})` : ''}: other processes join it with  ${joinCommand(target.jobPath, target.shards === undefined ? target.outDir : undefined, storeUrl, run.runId)}`,
    // The owner's progress files speak for the whole run: they count what the other processes committed too.
    session: (countOthers) => ({ worker: parts.me, detail: { worker: parts.me }, afterHeartbeat: countOthers }),
  }
}

/** A process joining a shared run: no gate, no owner lease, no progress files; the owner reconciles the folder. */
function workerRole(target: ParticipationTarget, storeUrl: string, runId: string): Role {
  const parts = sharedParts()
  return {
    ...parts,
    kind: 'worker',
    async open({ leaseTtlMs }) {
      const joined = await joinSharedRun({
        jobPath: target.jobPath,
        outDir: target.outDir === '' ? undefined : target.outDir,
        storeUrl,
        runId,
        outage: waitForDatabase(leaseTtlMs, target.observer),
      })
      return { ...joined, lease: undefined, resumed: true, clearance: undefined }
    },
    reconcile: (open, naming) => reconcile(open.store, open.paths, open.place, { owner: false, shared: true }, naming),
    welcome: () => undefined,
    session: () => ({ worker: parts.me, detail: { worker: parts.me } }),
  }
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
