import { hostname } from 'node:os'
import { RunOwnedError } from '../errors.ts'
import type { OwnerLease, Store } from '../journal/store.ts'
import { processAlive } from '../telemetry/processAlive.ts'

/**
 * Takes the run's owner lease (invariant one-owner). A live holder makes this
 * refuse; an expired one is replaced; so is a holder on this same host whose
 * process no longer exists, so a run killed a second ago resumes at once
 * rather than after the lease's TTL.
 */
export async function takeOwnership(store: Store, dir: string, ttlMs: number, now: number): Promise<OwnerLease> {
  const me = { pid: process.pid, host: hostname() }
  const first = await store.acquireOwner(me, ttlMs, now)
  if ('lease' in first) return first.lease
  const holder = first.heldBy
  if (holder.host === me.host && !processAlive(holder.pid)) {
    const second = await store.acquireOwner(me, ttlMs, now, holder.token)
    if ('lease' in second) return second.lease
  }
  throw new RunOwnedError(dir, {
    pid: holder.pid,
    host: holder.host,
    since: new Date(holder.since).toISOString(),
    expiresAt: new Date(holder.expiresAt).toISOString(),
  })
}
