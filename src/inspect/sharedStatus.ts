import type { StoreLink } from '../journal/runJournal.ts'
import { claimNameOf, type OwnerInfo, processOfClaimName, type Store } from '../journal/store.ts'
import type { UsageTotals } from '../journal/usage.ts'
import {
  processAliveHere,
  type RunStatus,
  type SharedRunFacts,
  snapshotFromJournal,
  statusOf,
  withoutRate,
} from '../run/runStatus.ts'
import { duration as ago } from '../telemetry/progressText.ts'
import type { ProgressSnapshot } from '../telemetry/snapshot.ts'

/**
 * Where a run shared through PostgreSQL stands. Its progress.json is the
 * owner's view: workers write none, and it goes stale when the owner dies or
 * leaves while the workers go on. The journal is the truth across processes:
 * the committed count is its own, and the run is live while the owner holds
 * its lease or any other process holds a claim that has not expired. A holder
 * on this host whose process is gone does not count; elsewhere, a dead
 * holder counts until its lease's TTL has passed.
 */
export async function sharedRunStatus(
  store: Store,
  link: StoreLink,
  written: ProgressSnapshot | undefined,
  dir: string,
  now: number,
): Promise<RunStatus | undefined> {
  const run = await store.getRun()
  if (!run) return undefined
  const owner = await store.getOwner()
  const holders = await store.claimHolders(now)
  const done = await store.committedItems()

  const ownerAlive = owner !== undefined && owner.expiresAt > now && processAliveHere(owner.host, owner.pid)
  // The owner's claims go by its own host:pid: they are not a worker's.
  const ownerNames = new Set([owner, written?.owner].filter((o) => o !== undefined).map(claimNameOf))
  const workers = holders.filter((name) => !ownerNames.has(name) && holderAlive(name))
  const shared: SharedRunFacts = { store: link.store, runId: link.runId, ownerAlive, workers }
  const base = {
    ...(written ?? snapshotFromJournal(run, done)),
    done,
    total: run.total,
    percent: (100 * done) / run.total,
    ...usageOfJournal(await store.usageTotals(), done),
  }
  const heartbeatAgeSeconds = written ? (now - Date.parse(written.heartbeatAt)) / 1000 : 0
  const status = (snapshot: ProgressSnapshot, live: boolean, ownerGone: boolean, summary: string): RunStatus => ({
    dir,
    snapshot,
    live,
    ownerGone,
    heartbeatAgeSeconds,
    summary,
    shared,
  })
  const who = ownerText(owner ?? written?.owner)

  // Ended: whoever ended it recorded it in the journal; the owner's file may never have heard.
  if (run.state !== 'running') {
    const snapshot =
      written?.state === run.state
        ? base
        : { ...withoutRate(base, null), state: run.state, inFlight: 0, stalledForSeconds: null }
    const note = !written
      ? ' (from the journal: this run has no progress.json)'
      : written.state !== run.state
        ? ` (from the journal; the owner's progress.json still says ${written.state})`
        : ''
    return status(snapshot, false, false, `${run.state.toUpperCase()}${note}`)
  }
  if (ownerAlive) {
    const fromFile = written && statusOf(base, dir, now)
    if (fromFile?.live) return status(fromFile.snapshot, true, false, fromFile.summary)
    // The lease is held, but the file is not this session's yet (the owner has just started or resumed).
    const snapshot = { ...withoutRate(base, 'the owner has not written its progress yet'), state: 'running' as const }
    return status(
      snapshot,
      true,
      false,
      `RUNNING (from the journal: ${who} holds the run; its progress.json is not current yet)`,
    )
  }
  if (workers.length > 0) {
    const snapshot = {
      ...withoutRate(base, 'the owner is gone, and workers write no progress files'),
      state: 'running' as const,
      stalledForSeconds: null,
    }
    return status(snapshot, true, false, `RUNNING — ${who} is gone; ${workers.length} worker(s) still working`)
  }
  // Nobody holds the owner lease or a claim: the run waits for its owner's command.
  if (written && written.state !== 'running' && written.state !== 'stalled')
    return status(base, false, false, written.state.toUpperCase())
  const since = written
    ? `last heartbeat ${ago(heartbeatAgeSeconds)} ago (owner pid ${written.owner.pid} on ${written.owner.host}), `
    : 'from the journal: '
  return status(
    withoutRate({ ...base, state: 'running' }, 'the run is not running'),
    false,
    true,
    `not running — ${since}no process holds the owner lease or a claim; run the same command to resume`,
  )
}

/**
 * What every process's committed ranges used, as the journal sums it: the owner's file may be behind it (the owner is
 * gone, or between heartbeats). Its rate stays the file's: the journal keeps no times of usage.
 */
function usageOfJournal(totals: UsageTotals, done: number): Partial<ProgressSnapshot> {
  const { usage, failedUsage } = totals
  return {
    ...(Object.keys(usage).length > 0 && {
      usage,
      usagePerItem: Object.fromEntries(Object.entries(usage).map(([unit, n]) => [unit, done > 0 ? n / done : 0])),
    }),
    ...(Object.keys(failedUsage).length > 0 && { usageOnFailedAttempts: failedUsage }),
  }
}

/** A claim holder of this host whose process is gone is dead already, whatever its lease says. */
function holderAlive(name: string): boolean {
  const holder = processOfClaimName(name)
  return holder === undefined || processAliveHere(holder.host, holder.pid)
}

function ownerText(owner: OwnerInfo | undefined): string {
  return owner && owner.pid > 0 ? `the owner (pid ${owner.pid} on ${owner.host})` : 'the owner'
}
