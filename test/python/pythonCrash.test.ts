/**
 * Python map jobs (`longhaul run job.py`) survive crashes as TypeScript jobs do: a real coordinator SIGKILLed
 * mid-run and resumed, a real python3 worker process killed mid-range.
 */
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { expect, it, onTestFinished } from 'vitest'
import { runMapJob, verifyRun } from '../../src/index.ts'
import { killedAfterEach, ROOT, runCli, runCliHere, startCli, tempDir, waitFor } from '../support/cli.ts'

const FIXTURES = join(ROOT, 'test/fixtures/python')
const SQUARES = join(FIXTURES, 'squares.py')
const started = killedAfterEach()

/** The `i` of every record in the run's shards, in file order. */
function indicesIn(dir: string): number[] {
  const data = join(dir, 'data')
  return readdirSync(data)
    .filter((name) => name.endsWith('.jsonl'))
    .sort()
    .flatMap((name) =>
      readFileSync(join(data, name), 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((line) => (JSON.parse(line) as { i: number }).i),
    )
}

/** The pids of the processes whose parent is `pid` (Linux /proc). */
function childrenOf(pid: number): number[] {
  return readdirSync('/proc')
    .filter((name) => /^\d+$/.test(name))
    .filter((name) => {
      try {
        return readFileSync(`/proc/${name}/stat`, 'utf8').split(') ')[1]!.split(' ')[1] === String(pid)
      } catch {
        return false
      }
    })
    .map(Number)
}

/** Whether `pid` still runs (a zombie waiting for its new parent to reap it does not). */
function alive(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]![0] !== 'Z'
  } catch {
    return false
  }
}

it('no-loss, no-duplicates, determinism: a Python job whose coordinator is SIGKILLed mid-run resumes to every index exactly once, with the digest of one worker uninterrupted; no worker outlives the coordinator', async () => {
  const root = tempDir()
  const total = 600
  const reference = await runMapJob({ jobPath: SQUARES, outDir: join(root, 'reference'), total, workers: 1 })
  expect(reference.state).toBe('complete')

  const out = join(root, 'killed')
  const args = ['run', SQUARES, '--out', out, '--total', String(total), '--workers', '2', '--json']
  const { child, done } = startCli([...args, '--checkpoint-every', '1'], { ITEM_MS: '5' })
  started.push(child)
  // Killed once something is committed and more is on its way.
  await waitFor('the first commit', async () => {
    const report = await verifyRun(out).catch(() => undefined)
    return report && report.items > 0 ? report : undefined
  })
  const workers = childrenOf(child.pid!)
  expect(workers.length).toBe(2)
  // Should a worker outlive its coordinator (the test failing), it is not left running.
  onTestFinished(() => {
    for (const pid of workers.filter(alive)) process.kill(pid, 'SIGKILL')
  })
  child.kill('SIGKILL')
  await waitFor('the workers to end with their coordinator', () => (workers.some(alive) ? undefined : true), 10_000)
  expect((await done).signal).toBe('SIGKILL')

  // The same command, in this process (no process is at stake any more).
  const resumed = await runCliHere(args)
  expect(resumed.code, resumed.stderr).toBe(0)
  expect(JSON.parse(resumed.stdout)).toMatchObject({ state: 'complete', resumed: true, digest: reference.digest })
  expect(await verifyRun(out)).toMatchObject({ complete: true, items: total, missing: 0, duplicates: 0, corrupt: 0 })
  expect(indicesIn(out)).toEqual(Array.from({ length: total }, (_, i) => i))
})

it('a Python worker process that dies is replaced and its range made again: the run completes with every item once', async () => {
  const dir = tempDir()
  const out = join(dir, 'out')
  const result = await runCli(['run', join(FIXTURES, 'dies_once.py'), '--out', out, '--workers', '2', '--json'], {
    DIE_AT: '42',
    MARK: join(dir, 'died'),
  })
  expect(result.code, result.stderr).toBe(0)
  expect(readFileSync(join(dir, 'died'), 'utf8')).toBe('') // the worker did die once
  expect(await verifyRun(out)).toMatchObject({ complete: true, items: 100, missing: 0, duplicates: 0, corrupt: 0 })
  expect(indicesIn(out)).toEqual(Array.from({ length: 100 }, (_, i) => i))
})

it('interrupt: SIGINT stops a Python run after each worker item (exit 130, its workers ended, what was made committed), and the same command completes it', async () => {
  const root = tempDir()
  const out = join(root, 'out')
  const args = ['run', SQUARES, '--out', out, '--total', '400', '--workers', '2', '--json']
  const { child, done } = startCli([...args, '--checkpoint-every', '1'], { ITEM_MS: '20' })
  started.push(child)
  await waitFor('the first commit', async () => {
    const report = await verifyRun(out).catch(() => undefined)
    return report && report.items > 0 ? report : undefined
  })
  const workers = childrenOf(child.pid!)
  child.kill('SIGINT')
  const stopped = await done
  expect(stopped.code, stopped.stderr).toBe(130)
  expect(workers.filter(alive)).toEqual([])
  const kept = JSON.parse(stopped.stdout) as { state: string; committed: number }
  expect(kept.state).toBe('interrupted')
  expect((await verifyRun(out)).items).toBe(kept.committed)

  // The same command, in this process (no process is at stake any more).
  const resumed = await runCliHere(args)
  expect(resumed.code, resumed.stderr).toBe(0)
  expect(JSON.parse(resumed.stdout)).toMatchObject({ state: 'complete', committedThisSession: 400 - kept.committed })
  expect(indicesIn(out)).toEqual(Array.from({ length: 400 }, (_, i) => i))
})
