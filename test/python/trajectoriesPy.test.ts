/**
 * The Python flagship example, examples/trajectories-py: its dataset is the same for any number of workers, and what
 * open_run reads back has the balanced labels and the clip shape its README promises.
 */
import { execFileSync } from 'node:child_process'
import { join } from 'node:path'
import { expect, it } from 'vitest'
import { runMapJob, verifyRun } from '../../src/index.ts'
import { ROOT, tempDir } from '../support/cli.ts'

const JOB = join(ROOT, 'examples/trajectories-py/gen.py')

it('determinism: the Python trajectories example has the same digest with 1 and 2 workers, and open_run reads balanced labels and (16, 64, 64) uint8 clips', async () => {
  const root = tempDir()
  const one = await runMapJob({ jobPath: JOB, outDir: join(root, 'one'), total: 200, workers: 1 })
  const two = await runMapJob({ jobPath: JOB, outDir: join(root, 'two'), total: 200, workers: 2 })
  expect(one.state).toBe('complete')
  expect(two.digest).toBe(one.digest)
  expect(await verifyRun(join(root, 'two'))).toMatchObject({ complete: true, items: 200, corrupt: 0, duplicates: 0 })

  const read = execFileSync(
    'python3',
    [
      '-c',
      `import sys, longhaul, numpy as np
run = longhaul.open_run(sys.argv[1])
labels = [int(record["label"]) for record in run]
video = next(iter(run))["video"]
print(len(run), np.bincount(labels).tolist(), list(video.shape), video.dtype)`,
      join(root, 'two'),
    ],
    { encoding: 'utf8', env: { ...process.env, PYTHONPATH: join(ROOT, 'python') } },
  )
  expect(read.trim()).toBe('200 [50, 50, 50, 50] [16, 64, 64] uint8')
})
