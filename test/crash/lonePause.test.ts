/**
 * A lone run held up past its lease, that nobody took over, carries on: its
 * lease is renewed before it claims more, and no range it was making is
 * retaken from under it (invariant lone-owner-survives-pause). A run that was
 * taken over stops and says so (fencedOutput.test.ts).
 */
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { describe, expect, it } from 'vitest'
import { runMapJob, verifyRun } from '../../src/index.ts'
import { SqliteStore } from '../../src/journal/sqlite/sqliteStore.ts'
import { fixture, killedAfterEach, LONG, startCli, tempDir, waitFor } from '../support/cli.ts'

const root = tempDir()
const started = killedAfterEach()

async function eventTypes(out: string): Promise<string[]> {
  const store = SqliteStore.open(join(out, '.longhaul', 'journal.sqlite'), { readonly: true })
  try {
    return (await store.events()).map((event) => event.type)
  } finally {
    await store.close()
  }
}

describe('lone-owner-survives-pause', () => {
  it('a run whose clock jumps past its lease mid-run (nobody else there) renews it before claiming more, drops nothing and completes', async () => {
    const outDir = join(root, 'jump')
    let offset = 0
    let commits = 0
    const notes: string[] = []
    const summary = await runMapJob({
      jobPath: fixture('squares.ts'),
      outDir,
      total: 3_000,
      workers: 2,
      // A long lease and heartbeat, so the heartbeat cannot renew it first: the claim path must.
      leaseTtlMs: 60_000,
      heartbeatMs: 20_000,
      now: () => Date.now() + offset,
      observer: {
        note: (text) => notes.push(text),
        committed: () => {
          // Held up two minutes, past the 60 s lease, while ranges are in flight.
          if (++commits === 3) offset += 120_000
        },
      },
    })
    expect(summary).toMatchObject({ state: 'complete', committed: 3_000 })
    const types = await eventTypes(outDir)
    expect(types).toContain('lease-renewed-late')
    expect(types).not.toContain('claim-lost')
    expect(notes.some((note) => /held up .* nobody took the run over, so it goes on/.test(note))).toBe(true)
    expect(await verifyRun(outDir)).toMatchObject({ complete: true, stray: [] })
  })

  // One trial in the default suite; `npm run test:long` runs three.
  for (const trial of LONG ? [1, 2, 3] : [1]) {
    it(`a lone run SIGSTOPped past its 1 s lease and woken completes (exit 0) and verifies (trial ${trial})`, async () => {
      const out = join(root, `stopped-${trial}`)
      const run = startCli(
        [
          'run',
          fixture('squares.ts'),
          '--out',
          out,
          '--total',
          '400',
          '--workers',
          '2',
          '--lease-ttl',
          '1',
          '--progress-every',
          '1',
          '--json',
        ],
        { ITEM_MS: '10' },
      )
      started.push(run.child)
      let stderr = ''
      run.child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
      await waitFor('the run to commit', () => (/ [1-9][\d,]*\/400/.test(stderr) ? true : undefined), 30_000)
      run.child.kill('SIGSTOP')
      await sleep(2_500)
      run.child.kill('SIGCONT')
      const result = await run.done
      expect(result.code, result.stderr).toBe(0)
      expect(JSON.parse(result.stdout)).toMatchObject({ state: 'complete', committed: 400 })
      expect(result.stderr).toMatch(/held up .* nobody took the run over, so it goes on/)
      expect(await verifyRun(out)).toMatchObject({ complete: true, stray: [] })
    }, 60_000)
  }
})
