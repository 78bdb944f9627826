/**
 * What a run recorded by a journal of schema version 1 is, told from its
 * history: a run's kind, where its shards go and a loop's digest became
 * columns of the run in version 2, and this is how the migration to version
 * 2 fills them (both stores), and how a SQLite journal read without being
 * migrated (`readonly`) reads them. Nothing else decides from the identity
 * or the event log.
 *
 * Version 1 told them so: an exec identity says `kind: 'exec'`, a loop's
 * output says `kind: 'loop'`, anything else was a map job's; the first
 * `shards` event named the bucket; a loop's last `complete` event held its
 * digest.
 */
import type { RunKind, RunRecord } from './store.ts'

export type RunColumns = Pick<RunRecord, 'kind' | 'shardsAt' | 'finalDigest'>

/** An event of a `shards` or `complete` type, in the order written, its detail parsed. */
export interface PastEvent {
  readonly type: string
  readonly detail: unknown
}

/** The event types the columns are told from: a migration reads only these. */
export const PAST_EVENT_TYPES = ['shards', 'complete'] as const

export function oldRunColumns(identity: string, events: readonly PastEvent[]): RunColumns {
  const kind = kindOf(identity)
  const shards = events.find((e) => e.type === 'shards')
  const complete = kind === 'loop' ? events.findLast((e) => e.type === 'complete') : undefined
  return { kind, shardsAt: stringField(shards?.detail, 'at'), finalDigest: stringField(complete?.detail, 'digest') }
}

function kindOf(json: string): RunKind {
  let identity: { kind?: unknown; output?: { kind?: unknown } | null } | null
  try {
    identity = JSON.parse(json) as typeof identity
  } catch {
    return 'map'
  }
  if (identity?.kind === 'exec') return 'exec'
  if (identity?.output?.kind === 'loop') return 'loop'
  return 'map'
}

function stringField(detail: unknown, name: string): string | null {
  const value = typeof detail === 'object' && detail !== null ? (detail as Record<string, unknown>)[name] : undefined
  return typeof value === 'string' ? value : null
}
