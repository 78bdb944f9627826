/**
 * The progress files are the run's face to people and machines: fresh while
 * it lives, never half-written, honest about stalls and dead owners.
 */
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { expect, it } from 'vitest'
import { runMapJob } from '../../src/index.ts'
import { SqliteStore } from '../../src/journal/sqlite/sqliteStore.ts'
import type { ProgressSnapshot } from '../../src/telemetry/snapshot.ts'
import { fixture, runCliHere, startCli, tempDir, withEnv } from '../support/cli.ts'

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/**
 * Reads progress.json in a tight loop until the run ends, and once more after (a run in this process may end within
 * one sleep of its last write); every read must parse.
 */
async function sampleProgress(
  dir: string,
  done: Promise<unknown>,
): Promise<{ at: number; snapshot: ProgressSnapshot; text: string }[]> {
  const samples: { at: number; snapshot: ProgressSnapshot; text: string }[] = []
  const sample = (): void => {
    // progress.json is written first, PROGRESS.txt right after: read once both exist.
    if (existsSync(join(dir, 'progress.json')) && existsSync(join(dir, 'PROGRESS.txt'))) {
      const raw = readFileSync(join(dir, 'progress.json'), 'utf8')
      const text = readFileSync(join(dir, 'PROGRESS.txt'), 'utf8')
      samples.push({ at: Date.now(), snapshot: JSON.parse(raw) as ProgressSnapshot, text })
    }
  }
  let finished = false
  void done.then(() => (finished = true))
  while (!finished) {
    sample()
    await sleep(15)
  }
  sample()
  return samples
}

it('fresh-progress: while the run lives, progress.json always parses and is never older than the refresh interval, and the heartbeat moves while an item blocks for several heartbeats', async () => {
  const out = join(tempDir(), 'run')
  // In this process, with a heartbeat and a refresh every half second instead of every 10 s: item 30 blocks its worker
  // thread for 3 s, six heartbeats.
  const done = withEnv({ BLOCK_AT: '30', BLOCK_MS: '3000' }, () =>
    runMapJob({
      jobPath: fixture('blocking.ts'),
      outDir: out,
      total: 60,
      workers: 1,
      progressEvery: 500,
      heartbeatMs: 500,
    }),
  )
  const samples = await sampleProgress(out, done)
  expect((await done).state).toBe('complete')
  const live = samples.filter((s) => s.snapshot.state === 'running' || s.snapshot.state === 'stalled')
  expect(live.length).toBeGreaterThan(100)
  for (const s of live) {
    // 0.5 s interval, plus room for a busy machine.
    expect(s.at - Date.parse(s.snapshot.updatedAt)).toBeLessThanOrEqual(2_000)
    expect(s.text.split('\n')[0]).toMatch(/^(RUNNING|STALLED)/)
    expect(s.snapshot).toMatchObject({ job: 'blocking', total: 60, workers: 1 })
  }
  // While item 30 blocks, nothing finishes, yet the heartbeat (every second) moves on.
  const blocked = live.filter((s) => s.snapshot.done + s.snapshot.inFlight === 30)
  const beats = new Set(blocked.map((s) => s.snapshot.heartbeatAt))
  expect(blocked.length).toBeGreaterThan(50)
  expect(beats.size).toBeGreaterThanOrEqual(3)
  expect(samples.at(-1)!.snapshot.state).toBe('complete')
  expect(samples.at(-1)!.text.split('\n')[0]).toBe('COMPLETE')
}, 60_000)

it('stall-detection: a run that finishes nothing for the stall threshold turns STALLED in both files, the terminal and the journal, and RUNNING again when progress resumes', async () => {
  const out = join(tempDir(), 'run')
  // In this process (the CLI's main: its terminal lines are collected as a process's stderr would be).
  const done = withEnv({ BLOCK_AT: '40', BLOCK_MS: '4500' }, () =>
    runCliHere([
      'run',
      fixture('blocking.ts'),
      '--out',
      out,
      '--total',
      '200',
      '--workers',
      '1',
      '--progress-every',
      '1',
      '--stall-after',
      '2',
    ]),
  )
  const samples = await sampleProgress(out, done)
  const result = await done
  expect(result.code, result.stderr).toBe(0)
  const states = samples.map((s) => s.snapshot.state).filter((state, i, all) => state !== all[i - 1])
  expect(states).toEqual(['running', 'stalled', 'running', 'complete'])
  const stalled = samples.find((s) => s.snapshot.state === 'stalled')!
  expect(stalled.snapshot.stalledForSeconds).toBeGreaterThanOrEqual(2)
  // The two files are replaced one after the other: some read sees both stalled.
  expect(samples.some((s) => /^STALLED — nothing finished for \d+s/.test(s.text))).toBe(true)
  expect(samples.some((s) => s.text.startsWith('RUNNING') && s.snapshot.done > 40)).toBe(true)
  expect(result.stderr).toMatch(/STALLED: nothing has finished for \d+s[\s\S]*running again/)

  const store = SqliteStore.open(join(out, '.longhaul', 'journal.sqlite'), { readonly: true })
  const events = (await store.events()).map((e) => e.type)
  await store.close()
  expect(events.filter((t) => t === 'stalled' || t === 'recovered')).toEqual(['stalled', 'recovered'])
  expect(events.at(-1)).toBe('complete')
  // status reads the same event log, through the store.
  const status = await runCliHere(['status', out])
  expect(status.stdout).toMatch(/Recent events:[\s\S]*stalled \(quietSeconds [\d.]+\)[\s\S]*recovered[\s\S]*complete/)
}, 60_000)

it('status on a dead run: a run killed without ending reports "not running" with its last heartbeat and owner', async () => {
  const out = join(tempDir(), 'run')
  const { child, done } = startCli(['run', fixture('blocking.ts'), '--out', out, '--total', '400', '--workers', '1'], {
    ITEM_MS: '20',
  })
  while (!existsSync(join(out, 'progress.json'))) await sleep(50)
  const live = await runCliHere(['status', out, '--json'])
  expect(JSON.parse(live.stdout)[0]).toMatchObject({ live: true, state: 'running' })
  child.kill('SIGKILL')
  await done
  const dead = await runCliHere(['status', out])
  expect(dead.code).toBe(0)
  expect(dead.stdout).toMatch(
    new RegExp(
      `not running — last heartbeat \\d+s ago \\(owner pid ${child.pid} on .+\\); run the same command to resume`,
    ),
  )
  const json = JSON.parse((await runCliHere(['status', out, '--json'])).stdout)[0]
  expect(json).toMatchObject({
    live: false,
    ownerGone: true,
    state: 'running',
    etaSeconds: null,
    owner: { pid: child.pid },
  })
})

it('without a TTY, run prints one plain line per refresh interval (through a pipe), and watch follows a run until it ends', async () => {
  const out = join(tempDir(), 'run')
  const started = Date.now()
  const run = startCli(
    ['run', fixture('blocking.ts'), '--out', out, '--total', '300', '--workers', '1', '--progress-every', '1'],
    { ITEM_MS: '10' },
  )
  while (!existsSync(join(out, 'progress.json'))) await sleep(50)
  // watch in this process: it only reads the run's files.
  const watch = await runCliHere(['watch', out])
  const result = await run.done
  const seconds = (Date.now() - started) / 1000
  expect(result.code).toBe(0)
  const lines = result.stderr.split('\n').filter((line) => /^\[blocking\] (RUNNING|COMPLETE) /.test(line))
  // ~3 s of work at one line a second: no more lines than the seconds the process lived (longer on a busy machine),
  // plus the first and the last.
  expect(lines.length).toBeGreaterThanOrEqual(3)
  expect(lines.length).toBeLessThanOrEqual(Math.ceil(seconds) + 2)
  expect(lines.at(-1)).toMatch(/^\[blocking\] COMPLETE 300\/300 \(100\.0%\)/)
  expect(result.stderr).not.toContain('\r')
  expect(watch.code).toBe(0)
  expect(watch.stdout.trim().split('\n').at(-1)).toMatch(/COMPLETE 300\/300/)
})
