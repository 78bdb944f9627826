/**
 * A loop has the same telemetry and safety as a map job: fresh progress files
 * counting durable (checkpointed) steps as done out of its steps; the journal's
 * started / checkpoint / complete events; interrupt (SIGINT: a last checkpoint,
 * state interrupted, exit 130, resumable); one-owner; and a failing step that
 * keeps its checkpoints.
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { beforeAll, expect, it } from 'vitest'
import type { ProgressSnapshot } from '../../src/index.ts'
import { listCheckpoints } from '../../src/work/loop/checkpoints.ts'
import { tempDir } from '../support/cli.ts'
import { DESCENT, finalBytes, readJournal, runLoopHere, sha256, startLoop } from './support.ts'

const root = tempDir('longhaul-loop-telemetry-')
const env = { STEP_MS: '10', CKPT_STEPS: '20', CKPT_MS: '3600000', PROGRESS_EVERY_MS: '100' }
let expected: string

beforeAll(async () => {
  const reference = join(root, 'reference')
  // Made in this process, at full speed: a loop's final bytes do not depend on its pace or its checkpoints.
  expect((await runLoopHere(DESCENT, reference, { ...env, STEP_MS: '0' })).code).toBe(0)
  expected = sha256(finalBytes(reference))
})

function progressOf(out: string): ProgressSnapshot | undefined {
  try {
    return JSON.parse(readFileSync(join(out, 'progress.json'), 'utf8')) as ProgressSnapshot
  } catch {
    return undefined
  }
}

async function until<T>(what: () => T | undefined, ms = 20_000): Promise<T> {
  for (const end = Date.now() + ms; Date.now() < end; await new Promise((resolve) => setTimeout(resolve, 25))) {
    const value = what()
    if (value !== undefined) return value
  }
  throw new Error('timed out')
}

it("fresh-progress (loops): while it runs, progress.json counts checkpointed steps as done out of the loop's steps; at the end COMPLETE, and the journal has started, every checkpoint and complete with the digest", async () => {
  const out = join(root, 'progress')
  // Its 10 ms steps sleep (SLEEP_MS) rather than busy-wait: the same pace to watch, without 3 s of CPU.
  const done = runLoopHere(DESCENT, out, { ...env, STEP_MS: '0', SLEEP_MS: '10' })
  const seen: ProgressSnapshot[] = []
  const running = await until(() => {
    const p = progressOf(out)
    if (p?.state === 'running') seen.push(p)
    return p?.state === 'running' && p.done >= 60 ? p : undefined
  })
  expect(running).toMatchObject({ job: 'descent', total: 300, unit: 'steps', workers: 1 })
  // done moves only with a durable checkpoint: every 20 steps here.
  for (const p of seen) expect(p.done % 20).toBe(0)
  expect(new Set(seen.map((p) => p.updatedAt)).size).toBeGreaterThan(1)

  const result = await done
  expect(result.code, result.stderr).toBe(0)
  expect(progressOf(out)).toMatchObject({
    state: 'complete',
    done: 300,
    total: 300,
    percent: 100,
    checkpoints: 15,
    etaSeconds: 0,
  })
  expect(readFileSync(join(out, 'PROGRESS.txt'), 'utf8')).toMatch(/^COMPLETE\n[\s\S]*300 \/ 300 steps \(100\.0%\)/)
  const { run, events } = await readJournal(out)
  expect(run).toMatchObject({ state: 'complete', total: 300, job: 'descent' })
  expect(events.map((e) => e.type)).toEqual(['started', ...Array(15).fill('checkpoint'), 'complete'])
  expect(events.at(-1)?.detail).toEqual({ committed: 300, digest: expected, file: 'final.bin', bytes: 4104 })
})

it('fresh-progress (loops): the heartbeat and progress.json keep moving while one step blocks its thread for seconds', async () => {
  const out = join(root, 'blocking')
  // One step of 2 s, busy-waiting: the loop's thread never yields during it (10 heartbeats' worth).
  const done = runLoopHere(DESCENT, out, { ...env, STEP_MS: '2000', HEARTBEAT_MS: '200' }, 1)
  const beats = new Set<string>()
  await until(() => {
    const p = progressOf(out)
    if (p?.state === 'running' && p.done === 0) beats.add(p.heartbeatAt)
    return beats.size >= 4 ? true : undefined
  })
  expect((await done).code).toBe(0)
})

it("bounded-loss (loops): with time-based checkpoints alone, the steps finished but not yet durable never exceed the interval's worth", async () => {
  const out = join(root, 'bounded')
  // 10 ms steps (slept: the same pace without 3 s of CPU), a checkpoint every 300 ms and no step count: about 30 steps
  // at risk at most.
  const { done } = startLoop(DESCENT, out, { SLEEP_MS: '10', CKPT_MS: '300', PROGRESS_EVERY_MS: '50' })
  let worst = 0
  let samples = 0
  await until(() => {
    const p = progressOf(out)
    if (p?.state === 'running' && p.done > 0) {
      worst = Math.max(worst, p.inFlight)
      samples++
    }
    return p?.state === 'complete' ? true : undefined
  })
  expect((await done).code).toBe(0)
  expect(samples).toBeGreaterThan(10)
  // The interval, plus the step in progress, plus the progress file's own refresh interval.
  expect(worst).toBeLessThanOrEqual(Math.ceil((300 + 10 + 50) / 10) + 1)
  const { events } = await readJournal(out)
  const steps = events.filter((e) => e.type === 'checkpoint').map((e) => e.detail.step as number)
  expect(steps.length).toBeGreaterThan(5)
})

it('interrupt (loops): SIGINT finishes the step in progress, writes a last checkpoint, marks the run interrupted and exits 130; the same command resumes to the same bytes', async () => {
  const out = join(root, 'interrupt')
  // Its steps sleep: SIGINT lands mid-step all the same, without the CPU of busy-waiting.
  const { child, done } = startLoop(DESCENT, out, { ...env, STEP_MS: '0', SLEEP_MS: '10' })
  await until(() => ((progressOf(out)?.done ?? 0) >= 40 ? true : undefined))
  child.kill('SIGINT')
  const stopped = await done
  expect(stopped.code).toBe(130)
  const summary = JSON.parse(stopped.stdout)
  expect(summary).toMatchObject({ state: 'interrupted', digest: null })
  const at = summary.committed as number
  expect(at).toBeGreaterThanOrEqual(40)
  const { run, events } = await readJournal(out)
  expect(run?.state).toBe('interrupted')
  expect(events.at(-1)).toMatchObject({ type: 'interrupted', detail: { committed: at } })
  // The last checkpoint is where the loop stopped, not the last multiple of 20.
  expect(listCheckpoints(join(out, 'data')).at(-1)?.step).toBe(at)
  expect(progressOf(out)).toMatchObject({ state: 'interrupted', done: at })

  // Resumed at full speed: what it ends with does not depend on its pace.
  const resumed = await runLoopHere(DESCENT, out, { ...env, STEP_MS: '0' })
  expect(resumed.code, resumed.stderr).toBe(0)
  expect(JSON.parse(resumed.stdout)).toMatchObject({
    state: 'complete',
    resumed: true,
    startStep: at,
    committedThisSession: 300 - at,
    digest: expected,
  })
})

it("one-owner (loops): a second process on a live loop's folder is refused (exit 2), naming the holder", async () => {
  const out = join(root, 'owned')
  const { child, done } = startLoop(DESCENT, out, { ...env, STEP_MS: '0', SLEEP_MS: '10' })
  await until(() => (progressOf(out)?.state === 'running' ? true : undefined))
  const second = await runLoopHere(DESCENT, out, env)
  expect(second.code).toBe(2)
  expect(second.stderr).toMatch(new RegExp(`is being run by pid ${child.pid} on .+ since \\d{4}-`))
  child.kill('SIGKILL')
  await done
})

it('a failing step fails the run (exit 1) naming the step, keeps its checkpoints, and the same command resumes from the newest', async () => {
  const out = join(root, 'failing')
  const failed = await runLoopHere(DESCENT, out, { ...env, STEP_MS: '0', FAIL_AT: '150' })
  expect(failed.code).toBe(1)
  expect(failed.stderr).toMatch(
    /step 150 of loop 'descent' failed: boom at step 150\. The checkpoints are kept \(the newest at step 140\)/,
  )
  const { run, events } = await readJournal(out)
  expect(run?.state).toBe('failed')
  expect(events.at(-1)).toMatchObject({ type: 'failed' })
  expect(listCheckpoints(join(out, 'data')).at(-1)?.step).toBe(140)

  const resumed = await runLoopHere(DESCENT, out, { ...env, STEP_MS: '0' })
  expect(resumed.code, resumed.stderr).toBe(0)
  expect(JSON.parse(resumed.stdout)).toMatchObject({ startStep: 140, digest: expected })
})
