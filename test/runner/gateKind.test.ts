/**
 * The launch gate is told the kind of run it decides on, and the journal
 * records the same kind, whether the run is on one machine or shared through
 * PostgreSQL (a shared run once lost the gate's kind on its own way of opening).
 */
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { openStore } from '../../src/journal/openStore.ts'
import type { LaunchFacts, LaunchGate } from '../../src/run/identify.ts'
import { runLoopJob } from '../../src/work/loop/runLoopJob.ts'
import { runMapJob } from '../../src/work/map/runMapJob.ts'
import { fixture, ROOT, tempDir } from '../support/cli.ts'
import { usePostgres } from '../support/postgres.ts'

const server = usePostgres()
const SQUARES = fixture('squares.ts')
const DESCENT = join(ROOT, 'test/fixtures/loops/descent.ts')

function recordingGate(): { gate: LaunchGate; asked: LaunchFacts[] } {
  const asked: LaunchFacts[] = []
  return {
    asked,
    gate: async (facts) => {
      asked.push(facts)
      return { status: 'not-required', limit: 1_000, policy: 'test' }
    },
  }
}

describe("the run's kind at the launch gate and in the journal", () => {
  it('gate: a map run on one machine and a shared one are both asked about as map runs and recorded as such', async () => {
    const dir = tempDir()
    const local = recordingGate()
    const alone = await runMapJob({ jobPath: SQUARES, outDir: join(dir, 'local'), total: 20, gate: local.gate })
    expect(alone.state).toBe('complete')
    const shared = recordingGate()
    const url = await server().createDatabase()
    const run = await runMapJob({
      jobPath: SQUARES,
      outDir: join(dir, 'shared'),
      total: 20,
      store: url,
      gate: shared.gate,
    })
    expect(run.state).toBe('complete')

    expect(local.asked.map((f) => f.kind)).toEqual(['map'])
    expect(shared.asked.map((f) => f.kind)).toEqual(['map'])
    const file = await openStore({ file: join(dir, 'local', '.longhaul', 'journal.sqlite'), readonly: true })
    expect((await file.getRun())?.kind).toBe('map')
    await file.close()
    const database = await openStore({ url, runId: run.runId })
    expect(await database.getRun()).toMatchObject({ kind: 'map', shardsAt: null })
    await database.close()
  }, 60_000)

  it('gate: a loop is asked about as a loop and recorded as one, with its digest', async () => {
    const out = join(tempDir(), 'loop')
    const { gate, asked } = recordingGate()
    const summary = await runLoopJob({ jobPath: DESCENT, outDir: out, total: 20, gate })
    expect(summary.state).toBe('complete')
    expect(asked.map((f) => f.kind)).toEqual(['loop'])
    const store = await openStore({ file: join(out, '.longhaul', 'journal.sqlite'), readonly: true })
    expect(await store.getRun()).toMatchObject({ kind: 'loop', finalDigest: summary.digest })
    await store.close()
  }, 60_000)
})
