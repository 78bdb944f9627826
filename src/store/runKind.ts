/**
 * What kind of run a journal holds, read in one place: a map job's
 * (`longhaul run` of a defineJob), a loop's (defineLoop), or a supervised
 * program's (`longhaul exec`). The journal records it in the identity the
 * fingerprint was computed from: an exec identity says `kind: 'exec'`, a
 * loop's output says `kind: 'loop'`, a map job's identity has its sources and
 * its output format.
 */
import type { RunRecord } from './store.ts'

export type RunKind = 'map' | 'loop' | 'exec'

export function runKindOf(run: Pick<RunRecord, 'identity'>): RunKind {
  let identity: { kind?: unknown; output?: { kind?: unknown } | null } | null
  try {
    identity = JSON.parse(run.identity) as typeof identity
  } catch {
    return 'map'
  }
  if (identity?.kind === 'exec') return 'exec'
  if (identity?.output?.kind === 'loop') return 'loop'
  return 'map'
}
