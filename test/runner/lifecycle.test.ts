/**
 * One lifecycle for every kind of work (run/lifecycle.ts): whatever the work
 * does, the run is opened through its role, its session recorded, its end or
 * its failure recorded by the role, and everything undone in reverse order of
 * set-up: what the work set up, its pending writes, the lease, the journal.
 * The work here is a probe of the seam; the run, its journal and its lease are
 * real (a SQLite journal in a temporary folder).
 */
import { describe, expect, it } from 'vitest'
import { openStore } from '../../src/journal/openStore.ts'
import { driveRun, type Session, type Work } from '../../src/run/lifecycle.ts'
import type { RunProgress } from '../../src/run/observer.ts'
import { type JobFacts, type OpenedRunDir, openRunDir } from '../../src/run/openRun.ts'
import { type Ending, localRole } from '../../src/run/role.ts'
import { resolveRunSettings } from '../../src/run/settings.ts'
import { OWNER } from '../../src/run/startSession.ts'
import { tempDir } from '../support/cli.ts'

const facts: JobFacts = {
  kind: 'loop',
  name: 'probe',
  params: null,
  seed: 0,
  identity: { job: 'probe' } as unknown as JobFacts['identity'],
  fingerprint: 'probe-fingerprint',
  defaultTotal: 10,
}

/** A work whose drive is given; it says what the lifecycle asked of it, in order. */
function probe(ran: string[], drive: (session: Session<OpenedRunDir>) => Promise<Ending>): Work<OpenedRunDir, string> {
  return {
    begin: () => ran.push('begin'),
    halt: (reason) => ran.push(`halt: ${reason?.message ?? 'clean'}`),
    async reconcile({ teardown }) {
      teardown.defer(() => ran.push('work undone'))
      return { job: 'probe', seed: 0, committed: 0 }
    },
    drive,
    settle: async () => {
      ran.push('writes settled')
    },
    result: (_session, ending) => ending.state,
  }
}

async function drive(
  work: Work<OpenedRunDir, string>,
  signal?: AbortSignal,
): Promise<{ result: Promise<string>; dir: string; committed: RunProgress[] }> {
  const dir = tempDir()
  const settings = resolveRunSettings({ workers: 1, progressEvery: 60_000, heartbeatMs: 10_000 })
  const role = localRole(OWNER, (s) =>
    openRunDir({ jobPath: 'probe.ts', outDir: dir, leaseTtlMs: s.leaseTtlMs, now: s.now }, facts),
  )
  const committed: RunProgress[] = []
  const result = driveRun(work, role, { settings, signal, observer: { committed: (p) => committed.push(p) } })
  return { result, dir, committed }
}

/** The run's state, its session's events and its owner, read back from its journal once the session has ended. */
async function journalOf(dir: string): Promise<{ state: string | undefined; events: string[]; owned: boolean }> {
  const store = await openStore({ file: `${dir}/.longhaul/journal.sqlite`, readonly: true })
  try {
    const events = (await store.events()).map((e) => e.type)
    return { state: (await store.getRun())?.state, events, owned: (await store.getOwner()) !== undefined }
  } finally {
    await store.close()
  }
}

describe('run lifecycle', () => {
  it('one-lifecycle: a work that completes has its commits told, its end recorded by the role, and everything undone in reverse order, the lease let go', async () => {
    const ran: string[] = []
    const run = await drive(
      probe(ran, async (session) => {
        ran.push('drive')
        session.committed(10)
        return { state: 'complete', detail: { committed: 10, digest: 'd' } }
      }),
    )
    expect(await run.result).toBe('complete')
    expect(ran).toEqual(['begin', 'drive', 'work undone', 'writes settled'])
    expect(run.committed).toMatchObject([{ total: 10, committed: 10, committedThisSession: 10 }])
    expect(await journalOf(run.dir)).toEqual({ state: 'complete', events: ['started', 'complete'], owned: false })
  })

  it('one-lifecycle: a work that throws is halted with its error, the run recorded failed, the error thrown, and everything undone', async () => {
    const ran: string[] = []
    const run = await drive(
      probe(ran, async () => {
        ran.push('drive')
        throw new Error('the work broke')
      }),
    )
    await expect(run.result).rejects.toThrow('the work broke')
    expect(ran).toEqual(['begin', 'drive', 'halt: the work broke', 'work undone', 'writes settled'])
    expect(await journalOf(run.dir)).toEqual({ state: 'failed', events: ['started', 'failed'], owned: false })
  })

  it('one-lifecycle: an abort halts the work cleanly, and the run it ends is recorded interrupted', async () => {
    const ran: string[] = []
    const abort = new AbortController()
    abort.abort('SIGINT')
    const run = await drive(
      probe(ran, async () => {
        ran.push('drive')
        return { state: 'interrupted', detail: { committed: 0 } }
      }),
      abort.signal,
    )
    expect(await run.result).toBe('interrupted')
    expect(ran).toEqual(['begin', 'halt: clean', 'drive', 'work undone', 'writes settled'])
    expect(await journalOf(run.dir)).toEqual({ state: 'interrupted', events: ['started', 'interrupted'], owned: false })
  })
})
