/**
 * A run folder made by the longhaul before a run's kind, where its shards go
 * and a loop's digest were columns (journal schema version 1): its journal is
 * made here by writing that shape (a run made now, its columns dropped and the
 * schema version set back), which is what the previous version left. Read
 * without being changed, it verifies and shows its status as before; resumed,
 * it is migrated and goes on. Commands run the CLI's main in this process (the loop's checkpoint cadence set in its
 * environment around its runs).
 */
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { describe, expect, it } from 'vitest'
import { withLoopEnv } from '../loop/support.ts'
import { fixture, ROOT, runCliHere, tempDir } from '../support/cli.ts'

const DESCENT = join(ROOT, 'test/fixtures/loops/descent.ts')
const SQUARES = fixture('squares.ts')

/** Turns a run folder's journal back into the shape the previous version wrote. */
function asVersion1(out: string): void {
  const db = new Database(join(out, '.longhaul', 'journal.sqlite'))
  try {
    for (const column of ['final_digest', 'shards_at', 'kind']) db.exec(`ALTER TABLE run DROP COLUMN ${column}`)
    // Version 1 had no table of the items' usage either (migration 3 adds it).
    db.exec('DROP TABLE range_usage')
    db.pragma('user_version = 1')
  } finally {
    db.close()
  }
}

function journal(out: string): { version: number; run: Record<string, unknown> } {
  const db = new Database(join(out, '.longhaul', 'journal.sqlite'), { readonly: true })
  try {
    return {
      version: db.pragma('user_version', { simple: true }) as number,
      run: db.prepare('SELECT * FROM run').get() as Record<string, unknown>,
    }
  } finally {
    db.close()
  }
}

async function json(args: string[]): Promise<Record<string, unknown>> {
  const r = await runCliHere([...args, '--json'])
  expect(r.code, r.stderr).toBe(0)
  return JSON.parse(r.stdout) as Record<string, unknown>
}

/** `status DIR --json` without what changes as time passes (how long ago the last heartbeat was). */
async function status(out: string): Promise<unknown> {
  const r = await runCliHere(['status', out, '--json'])
  expect(r.code, r.stderr).toBe(0)
  return JSON.parse(r.stdout, (key, value: unknown) => (key === 'heartbeatAgeSeconds' ? undefined : value))
}

describe('a journal written by the previous version (schema version 1)', () => {
  it("run-state-columns: a loop's run verifies with the digest its complete event recorded, read-only; resumed, it is migrated and its digest kept", async () => {
    const out = join(tempDir(), 'loop')
    const ran = await withLoopEnv({ CKPT_STEPS: '20' }, () =>
      runCliHere(['run', DESCENT, '--out', out, '--total', '60', '--json']),
    )
    expect(ran.code, ran.stderr).toBe(0)
    const { digest } = JSON.parse(ran.stdout) as { digest: string }
    const before = await status(out)
    asVersion1(out)

    expect(await json(['verify', out])).toMatchObject({ complete: true, digest, unit: 'steps', items: 60 })
    expect(await status(out)).toEqual(before)
    // Reading changed nothing.
    expect(journal(out).version).toBe(1)

    const again = await withLoopEnv({ CKPT_STEPS: '20' }, () =>
      runCliHere(['run', DESCENT, '--out', out, '--total', '60']),
    )
    expect(again.code, again.stderr).toBe(0)
    expect(journal(out)).toMatchObject({ version: 3, run: { kind: 'loop', final_digest: digest, shards_at: null } })
    expect(await json(['verify', out])).toMatchObject({ complete: true, digest })
  }, 60_000)

  it('run-state-columns: a map run resumes where it stopped and ends with the digest of one uninterrupted run', async () => {
    const dir = tempDir()
    const reference = join(dir, 'reference')
    const expected = (await json(['run', SQUARES, '--out', reference, '--total', '30'])).digest
    const out = join(dir, 'map')
    expect((await runCliHere(['run', SQUARES, '--out', out, '--total', '20'])).code).toBe(0)
    asVersion1(out)
    expect(await json(['verify', out])).toMatchObject({ complete: true, items: 20 })

    const grown = await runCliHere(['run', SQUARES, '--out', out, '--total', '30'])
    expect(grown.code, grown.stderr).toBe(0)
    expect(journal(out)).toMatchObject({ version: 3, run: { kind: 'map', final_digest: null, shards_at: null } })
    expect(await json(['verify', out])).toMatchObject({ complete: true, items: 30, digest: expected })
  }, 60_000)

  it("run-state-columns: a supervised program's run is still known as one (verify says so; exec resumes it)", async () => {
    const out = join(tempDir(), 'exec')
    expect((await runCliHere(['exec', '--out', out, '--', 'true'])).code).toBe(0)
    asVersion1(out)
    const verified = await runCliHere(['verify', out])
    expect(verified.code).toBe(2)
    expect(verified.stderr).toContain("holds a supervised program's run (longhaul exec)")

    const again = await runCliHere(['exec', '--out', out, '--', 'true'])
    expect(again.code, again.stderr).toBe(0)
    expect(journal(out)).toMatchObject({ version: 3, run: { kind: 'exec' } })
  }, 60_000)
})
