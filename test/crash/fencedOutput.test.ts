/**
 * A process that lost its lease leaves nothing a reader would take as
 * output: a real owner paused with SIGSTOP past its (short) lease, a second
 * real `run` that takes the run over and completes it, then the first woken
 * with SIGCONT. Whatever the woken process was doing, data/ holds exactly the
 * files the journal records (and index.json), verify passes, and the
 * progress files still say what the new owner wrote: COMPLETE.
 */

import type { ChildProcess } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { describe, expect, it } from 'vitest'
import { verifyRun } from '../../src/index.ts'
import { SqliteStore } from '../../src/journal/sqlite/sqliteStore.ts'
import {
  type CliResult,
  fixture,
  killedAfterEach,
  LONG,
  runCli,
  runCliHere,
  startCli,
  tempDir,
  waitFor,
} from '../support/cli.ts'

const root = tempDir()
const TOTAL = 600
const started = killedAfterEach()

async function recordedFiles(out: string): Promise<string[]> {
  const store = SqliteStore.open(join(out, '.longhaul', 'journal.sqlite'), { readonly: true })
  try {
    const names: string[] = []
    for await (const range of store.ranges()) names.push(...range.files.map((file) => file.name))
    return names
  } finally {
    await store.close()
  }
}

/**
 * Stops `child`, waits past its 1 s lease, and runs `args` to the end: the takeover, made in this process (at full
 * speed: ITEM_MS is not set here); the owner that is stopped and woken is a real process.
 */
async function pausedThenTakenOver(child: ChildProcess, args: readonly string[]): Promise<CliResult> {
  child.kill('SIGSTOP')
  await sleep(1_800)
  return runCliHere(args)
}

describe('fenced-output', () => {
  // One trial in the default suite; `npm run test:long` runs three.
  for (const trial of LONG ? [1, 2, 3] : [1]) {
    it(`a woken owner that lost its lease leaves no file in data/ and does not touch the progress files (trial ${trial})`, async () => {
      const out = join(root, `trial-${trial}`)
      const args = [
        'run',
        fixture('squares.ts'),
        '--out',
        out,
        '--total',
        String(TOTAL),
        '--workers',
        '2',
        '--lease-ttl',
        '1',
        '--progress-every',
        '1',
        '--checkpoint-every',
        '1',
      ]
      // 20 ms an item: its worker threads are in the middle of ranges when it is stopped.
      const first = startCli(args, { ITEM_MS: '20' })
      started.push(first.child)
      let firstErr = ''
      first.child.stderr!.on('data', (chunk: Buffer) => (firstErr += chunk.toString()))
      await waitFor('the first owner to commit', () => (/ [1-9][\d,]*\/600/.test(firstErr) ? true : undefined), 30_000)
      let second = await pausedThenTakenOver(first.child, [...args, '--json'])
      // Stopped inside a journal transaction, the first process holds SQLite's write lock until it runs again (a limit
      // of one journal file): let it finish that transaction, stop it again, and take over once more.
      for (
        let attempt = 0;
        attempt < 3 && second.code !== 0 && /database is locked|SQLITE_BUSY/.test(second.stderr);
        attempt++
      ) {
        first.child.kill('SIGCONT')
        await sleep(20)
        second = await pausedThenTakenOver(first.child, [...args, '--json'])
      }
      expect(second.code, second.stderr).toBe(0)
      expect(JSON.parse(second.stdout)).toMatchObject({ state: 'complete', resumed: true, committed: TOTAL })

      first.child.kill('SIGCONT')
      const woken = await first.done
      // It says why it stopped: another process took the run over.
      expect(woken.code).toBe(1)
      // Whoever took it over has finished and let the lease go by now, or still holds it: the message names it then.
      expect(woken.stderr).toMatch(
        /no longer owns the run in .*: it was held up [\d.]+ s, past its 1\.0 s lease .* and (pid \d+ on .+ took the run over at \d{4}-|another process took the run over \(and has since ended\))/,
      )
      expect(woken.stderr).not.toMatch(/internal error/)

      const recorded = await recordedFiles(out)
      const present = readdirSync(join(out, 'data')).filter((name) => name !== 'index.json')
      expect(present.sort()).toEqual([...recorded].sort())
      expect(await verifyRun(out)).toMatchObject({ complete: true, items: TOTAL, stray: [] })
      expect(JSON.parse(readFileSync(join(out, 'progress.json'), 'utf8'))).toMatchObject({
        state: 'complete',
        done: TOTAL,
      })
      expect(readFileSync(join(out, 'PROGRESS.txt'), 'utf8')).toMatch(/^COMPLETE/)
      // No stray progress temp file of the woken process either.
      expect(readdirSync(out).filter((name) => name.endsWith('.tmp'))).toEqual([])
    }, 90_000)
  }
})

describe('fenced-output: the crash window between record and rename', () => {
  it('a run SIGKILLed after the journal recorded a range and before its files got their final names is finished on resume from the staged copy; nothing is made twice', async () => {
    const out = join(root, 'finalize-crash')
    const args = ['run', fixture('squares.ts'), '--out', out, '--total', '300', '--workers', '1']
    const killed = await runCli(args, { ITEM_MS: '2', LONGHAUL_CRASH_AT: 'finalize:3' })
    expect(killed.signal).toBe('SIGKILL')
    const recorded = await recordedFiles(out)
    const data = readdirSync(join(out, 'data'))
    // The third range is recorded, and its file still has only its staged name.
    const unfinished = recorded.filter((name) => !data.includes(name))
    expect(unfinished).toHaveLength(1)
    expect(data.filter((name) => name.startsWith('.claim-') && name.endsWith(`-${unfinished[0]}`))).toHaveLength(1)
    // verify reads the staged copy: the items are whole, not corrupt, and the run is not complete until it is named.
    const report = await verifyRun(out)
    expect(report).toMatchObject({ complete: false, corrupt: 0, duplicates: 0, stray: [], unfinished })
    expect(report.items).toBe(
      recorded.reduce((sum, name) => sum + Number(name.slice(13, 25)) - Number(name.slice(0, 12)), 0),
    )
    expect(report.problems.join('\n')).toContain(`data/${unfinished[0]} is recorded and whole, but still named .claim-`)

    const resumed = await runCliHere([...args, '--json'])
    expect(resumed.code, resumed.stderr).toBe(0)
    expect(resumed.stderr).toContain('finished 1 recorded file(s) whose rename an earlier crash cut short')
    const summary = JSON.parse(resumed.stdout)
    expect(summary.committedThisSession).toBe(
      300 - recorded.reduce((sum, name) => sum + Number(name.slice(13, 25)) - Number(name.slice(0, 12)), 0),
    )
    expect(await verifyRun(out)).toMatchObject({ complete: true, stray: [] })
  }, 60_000)
})
