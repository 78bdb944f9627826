import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { beforeAll, describe, expect, it } from 'vitest'
import { runPaths } from '../../src/files/runPaths.ts'
import { SqliteStore } from '../../src/journal/sqlite/sqliteStore.ts'
import type { RunEvent } from '../../src/journal/store.ts'
import type { ProgressSnapshot } from '../../src/telemetry/snapshot.ts'
import { ROOT, runCliHere, startCli, tempDir } from '../../test/support/cli.ts'

const TRAIN = join(ROOT, 'examples/python-training/train.py')
const dir = tempDir('longhaul-training-')
const data = join(dir, 'data')

async function eventsOf(out: string): Promise<RunEvent[]> {
  const store = SqliteStore.open(runPaths(out).journal, { readonly: true })
  try {
    return await store.events()
  } finally {
    await store.close()
  }
}

const weightsHash = (stdout: string): string =>
  /weights sha256: ([0-9a-f]{64})/.exec(stdout)?.[1] ?? `no hash in: ${stdout.slice(-500)}`

describe('examples/python-training', () => {
  beforeAll(async () => {
    // 1,000 items: at the policy's limit, so no proof is needed for the dataset the example trains on.
    // Made by the CLI's main in this process: the dataset is the input here, what is tested is the training script.
    const made = await runCliHere(['run', 'examples/trajectories/job.ts', '--out', data, '--total', '1000'])
    expect(made.code, made.stderr).toBe(0)
  })

  it('restart-from-checkpoint: the training script SIGKILLed mid-run is restarted by exec and ends with the same weights as an uninterrupted run', async () => {
    const straight = execFileSync(
      'python3',
      [TRAIN, '--data', data, '--out', join(dir, 'straight'), '--epochs', '30'],
      { encoding: 'utf8' },
    )
    const expected = weightsHash(straight)
    expect(expected).toMatch(/^[0-9a-f]{64}$/)

    const out = join(dir, 'exec')
    const training = join(dir, 'killed')
    const run = startCli([
      'exec',
      '--out',
      out,
      '--restarts',
      '3',
      '--restart-delay',
      '0',
      '--checkpoints',
      join(training, 'checkpoints', '*.npz'),
      '--resume-arg',
      '--resume {checkpoint}',
      '--',
      'python3',
      TRAIN,
      '--data',
      data,
      '--out',
      training,
      '--epochs',
      '30',
      '--step-delay',
      '0.1',
    ])
    // Killed after its second checkpoint (epoch 10), well before the end (epoch 30).
    let pid: number | undefined
    for (let i = 0; i < 600 && pid === undefined; i++) {
      await sleep(50)
      const events = await eventsOf(out).catch(() => [])
      if (events.filter((e) => e.type === 'checkpoint').length >= 2)
        pid = events.find((e) => e.type === 'program-started')?.detail.pid as number
    }
    expect(pid, 'the script reached its second checkpoint').toBeDefined()
    process.kill(pid!, 'SIGKILL')
    const r = await run.done
    expect(r.code, r.stderr).toBe(0)
    expect(r.stderr).toMatch(/was killed by SIGKILL; restarting it \(1 of 3\) in 0s from .*epoch-000(10|15|20|25)\.npz/)
    expect(r.stdout).toMatch(/resuming from .*epoch-000(10|15|20|25)\.npz/)
    expect(weightsHash(r.stdout)).toBe(expected)

    const progress = JSON.parse(readFileSync(join(out, 'progress.json'), 'utf8')) as ProgressSnapshot
    expect(progress).toMatchObject({ state: 'complete', done: 30, total: 30, unit: 'epoch', job: 'train' })
    const events = await eventsOf(out)
    expect(events.filter((e) => e.type === 'program-started')).toHaveLength(2)
    expect(events.find((e) => e.type === 'metrics')?.detail).toHaveProperty('loss')
  })
})
