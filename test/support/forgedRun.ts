import { randomUUID } from 'node:crypto'
import { mkdirSync, renameSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { ProgressSnapshot } from '../../src/telemetry/snapshot.ts'

/**
 * A finished run's progress.json as another machine's copy would leave it (no journal beside it): 100 of 100 items,
 * finished an hour ago, owned by a process elsewhere; `overrides` change any field.
 */
export function forgedSnapshot(overrides: Partial<ProgressSnapshot> = {}): ProgressSnapshot {
  const at = new Date(Date.now() - 3_600_000).toISOString()
  return {
    job: 'forged',
    runId: randomUUID(),
    state: 'complete',
    done: 100,
    total: 100,
    percent: 100,
    inFlight: 0,
    itemsPerSecond: 10,
    etaSeconds: null,
    etaLow: null,
    etaHigh: null,
    etaUnknownBecause: null,
    startedAt: at,
    updatedAt: at,
    heartbeatAt: at,
    lastCheckpointAt: at,
    checkpoints: 10,
    workers: 1,
    elapsedSeconds: 100,
    stalledForSeconds: null,
    stallAfterSeconds: 300,
    refreshSeconds: 10,
    heartbeatSeconds: 10,
    owner: { pid: 4242, host: 'another-machine' },
    gate: null,
    error: null,
    ...overrides,
  } as ProgressSnapshot
}

/** Writes `snapshot` as the progress.json of folder `dir` (made if missing), as a run does: a temporary file renamed over. */
export function writeForgedRun(dir: string, snapshot: ProgressSnapshot): void {
  mkdirSync(dir, { recursive: true })
  const path = join(dir, 'progress.json')
  writeFileSync(`${path}.tmp`, JSON.stringify(snapshot))
  renameSync(`${path}.tmp`, path)
}
