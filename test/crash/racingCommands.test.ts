/**
 * Racing commands get the documented answer. Real `longhaul run` processes
 * started at the same instant on one new --out: one wins, every other exits 2
 * naming the owner (one-owner), never an internal error. `verify` while a
 * run lives says so, checks what is committed so far, and exits 2.
 */
import { existsSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { describe, expect, it } from 'vitest'
import { type CliResult, fixture, LONG, runCliHere, startCli, tempDir, waitFor } from '../support/cli.ts'

const root = tempDir('longhaul-racing-')
const job = fixture('squares.ts')
/** Each item sleeps (no CPU), so the winner is still running when the last of the others starts. */
const SLOW = { ITEM_MS: '40' }

/** Runs started at once: 4 in the default suite (a process start costs about a second of CPU each), 8 under test:long. */
const RACERS = LONG ? 8 : 4

describe('racing-runs-one-winner', () => {
  // One race in the default suite; `npm run test:long` runs three.
  for (const trial of LONG ? [1, 2, 3] : [1]) {
    it(`trial ${trial}: ${RACERS} runs started at once on a new --out: one runs it, ${RACERS - 1} exit 2 naming it`, async () => {
      const out = join(root, `race-${trial}`)
      const started = Array.from({ length: RACERS }, () =>
        startCli(['run', job, '--out', out, '--workers', '1', '--total', '400'], SLOW),
      )
      const results: (CliResult | undefined)[] = started.map(() => undefined)
      started.forEach((s, i) => void s.done.then((r) => (results[i] = r)))
      // The losers end at once; the winner is stopped (Ctrl-C: it commits and exits 130) once they have.
      await waitFor(
        `${RACERS - 1} runs to be refused`,
        () => (results.filter(Boolean).length >= RACERS - 1 ? true : undefined),
        90_000,
      )
      for (const s of started) s.child.kill('SIGINT')
      const all = await Promise.all(started.map((s) => s.done))
      for (const r of all) expect(r.stderr).not.toMatch(/internal error|SqliteError|SQLITE_/)
      const refused = all.filter((r) => r.code === 2)
      expect(refused).toHaveLength(RACERS - 1)
      for (const r of refused) expect(r.stderr).toMatch(/is being run by pid \d+ on .* since/)
      const winner = all.find((r) => r.code !== 2)!
      expect([0, 130]).toContain(winner.code)
      // One journal, no temporary journal left behind by the losers.
      expect(readdirSync(join(out, '.longhaul')).filter((name) => name.startsWith('.tmp-'))).toEqual([])
    })
  }
})

describe('verify-live-run', () => {
  it('verify while a run lives: says it is live, checks the committed part, exits 2; once stopped, verify reports it INCOMPLETE (exit 1)', async () => {
    const out = join(root, 'live')
    const run = startCli(['run', job, '--out', out, '--workers', '2', '--total', '4000', '--checkpoint-every', '0.2'], {
      ITEM_MS: '25',
    })
    try {
      await waitFor('a few committed shards', () => {
        const data = join(out, 'data')
        return existsSync(data) && readdirSync(data).filter((name) => name.endsWith('.jsonl')).length >= 3
          ? true
          : undefined
      })
      // Once in the default suite, three times in a row with `npm run test:long`.
      for (let i = 0; i < (LONG ? 3 : 1); i++) {
        // In this process: verify is neither killed nor signalled.
        const verify = await runCliHere(['verify', out])
        expect(verify.stderr).not.toMatch(/internal error|SqliteError/)
        expect(verify.stdout).toMatch(
          /^LIVE {2}squares in .*: pid \d+ on .* is running it .*only what it has committed so far was checked/,
        )
        expect(verify.stdout).toMatch(/the committed part is intact; run verify again once the run has ended/)
        expect(verify.code).toBe(2)
      }
      const json = await runCliHere(['verify', out, '--json'])
      const report = JSON.parse(json.stdout) as {
        live?: { pid: number }
        complete: boolean
        corrupt: number
        stray: string[]
      }
      expect(report.live?.pid).toBe(run.child.pid)
      expect(report).toMatchObject({ complete: false, corrupt: 0, stray: [] })
    } finally {
      run.child.kill('SIGINT')
    }
    expect((await run.done).code).toBe(130)
    const after = await runCliHere(['verify', out])
    // Interrupted, not live: an incomplete run is exit 1 with the missing items named.
    expect(after.stdout).toMatch(/^INCOMPLETE/)
    expect(after.code).toBe(1)
  })
})

describe('locked-journal-named', () => {
  it('a journal another process keeps locked: run waits, then says who is in the way and exits 2', async () => {
    const out = join(root, 'locked')
    const made = await runCliHere(['run', job, '--out', out, '--workers', '1', '--total', '20'])
    expect(made.code, made.stderr).toBe(0)
    // Another program holds the journal's write lock (a long sqlite3 session, say).
    const other = new Database(join(out, '.longhaul', 'journal.sqlite'))
    other.prepare('BEGIN IMMEDIATE').run()
    try {
      // In this process too: SQLite's locks hold between two connections of one process as between two processes.
      const result = await runCliHere(['run', job, '--out', out, '--workers', '1', '--total', '20'])
      expect(result.stderr).not.toMatch(/internal error|SqliteError/)
      expect(result.stderr).toMatch(
        /the journal .*journal\.sqlite stayed locked by another process while recording .*\(SQLITE_BUSY\): another longhaul command is at work on/,
      )
      expect(result.code).toBe(2)
    } finally {
      other.prepare('ROLLBACK').run()
      other.close()
    }
    expect((await runCliHere(['verify', out])).code).toBe(0)
  })
})
