import { mkdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { expect, it } from 'vitest'
import { runPaths } from '../../src/files/runPaths.ts'
import { SqliteStore } from '../../src/journal/sqlite/sqliteStore.ts'
import { ProgressLoop } from '../../src/run/progressLoop.ts'
import { ProgressTracker } from '../../src/telemetry/progressTracker.ts'
import { tempDir } from '../support/cli.ts'

// fenced-output, for the progress files: an owner writes them only while the lease it last renewed holds (less a
// margin), by its own clock. A process held up past that may already have been replaced; whatever it commits or
// notices then, it writes nothing until a renewal says the run is still its own. (The journal's own fence, a commit
// refused for a lost lease, is proved by the crash tests.)

it('fenced-output: past the lease it last renewed, less a margin, an owner writes no progress file, whatever it commits', async () => {
  const dir = join(tempDir(), 'run')
  mkdirSync(dir, { recursive: true })
  const store = SqliteStore.open(runPaths(dir).journal)
  const start = 1_000_000
  let clock = start
  const never = 1_000_000_000
  const tracker = new ProgressTracker({
    job: 'fence',
    runId: 'r',
    total: 100,
    committed: 0,
    workers: 1,
    startedAt: start,
    stallAfterMs: never,
    refreshMs: never,
    heartbeatMs: never,
    owner: { pid: process.pid, host: 'here' },
  })
  // No renewal is due while the test runs (heartbeat never): the lease it holds is the one it started with, 2 s.
  const loop = new ProgressLoop({
    tracker,
    dir,
    store,
    ownerToken: 1,
    worker: `here:${process.pid}`,
    leaseTtlMs: 2_000,
    leaseExpiresAt: start + 2_000,
    progressEveryMs: never,
    heartbeatMs: never,
    observer: undefined,
    now: () => clock,
    onLeaseError: () => {},
  })
  const written = () => JSON.parse(readFileSync(join(dir, 'progress.json'), 'utf8')) as { done: number }
  try {
    clock = start + 100
    loop.committed(5)
    expect(written().done).toBe(5)
    // Within the lease, less its margin (a quarter of the TTL, at most 1 s): still written.
    clock = start + 1_400
    loop.committed(3)
    expect(written().done).toBe(8)
    // Past it: the process may have been held up and replaced; nothing is written over the files.
    clock = start + 1_600
    loop.committed(4)
    clock = start + 60_000
    loop.committed(4)
    expect(written().done).toBe(8)
    expect(readFileSync(join(dir, 'PROGRESS.txt'), 'utf8')).toMatch(/\b8\b/)
  } finally {
    loop.stop()
    await store.close()
  }
})
