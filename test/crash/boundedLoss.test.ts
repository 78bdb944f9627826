/**
 * bounded-loss: a crash loses at most the checkpoint interval of work. Items
 * take 40 ms and the chunk sizer aims at ~2 s ranges, so only the time-based
 * checkpoint (1 s here) can keep commits this close together.
 */
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { expect, it } from 'vitest'
import { fixture, startCli, tempDir } from '../support/cli.ts'

const INTERVAL_MS = 1_000
const ITEM_MS = 40
// Room for one item in progress, the commit itself, and a busy shared machine.
const SLACK_MS = 600

it('bounded-loss: commits come at least every checkpoint interval, so a SIGKILL loses no more than that', async () => {
  const out = join(tempDir(), 'run')
  const { child, done } = startCli(
    [
      'run',
      fixture('squares.ts'),
      '--out',
      out,
      '--total',
      '2000',
      '--workers',
      '1',
      '--checkpoint-every',
      String(INTERVAL_MS / 1000),
    ],
    { ITEM_MS: String(ITEM_MS) },
  )
  await new Promise((resolve) => setTimeout(resolve, 7_000))
  const killedAt = Date.now()
  child.kill('SIGKILL')
  await done

  // When each range was committed: the journal's own column, read from the file.
  const journal = new Database(join(out, '.longhaul', 'journal.sqlite'), { readonly: true })
  const commits = journal.prepare<[], number>('SELECT committed_at FROM ranges ORDER BY committed_at').pluck().all()
  journal.close()
  expect(commits.length).toBeGreaterThan(3)
  // Once the sizer has measured the items (after the first few ranges), no gap exceeds the interval.
  const gaps = commits.slice(3).map((at, i) => at - commits[i + 2]!)
  expect(Math.max(...gaps)).toBeLessThanOrEqual(INTERVAL_MS + ITEM_MS + SLACK_MS)
  // And the work lost to the kill is within the same bound.
  expect(killedAt - commits.at(-1)!).toBeLessThanOrEqual(INTERVAL_MS + ITEM_MS + SLACK_MS)
})
