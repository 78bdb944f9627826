/**
 * Python map jobs (`longhaul run job.py`) keep the invariants of TypeScript jobs, with real python3 worker processes:
 * determinism across worker counts, same-job-or-refuse, a failing item named with its Python traceback, the same
 * formats and item hashes (verify and numpy read the output as it is). Crashes: pythonCrash.test.ts.
 */
import { execFileSync } from 'node:child_process'
import { cpSync, existsSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { expect, it } from 'vitest'
import { EXIT } from '../../src/cli/exitCodes.ts'
import { FingerprintMismatchError, runMapJob, UsageError, verifyRun } from '../../src/index.ts'
import { ROOT, runCli, runCliHere, tempDir } from '../support/cli.ts'

const FIXTURES = join(ROOT, 'test/fixtures/python')
const SQUARES = join(FIXTURES, 'squares.py')

it('determinism: a Python job has the same digest with 1 and 3 workers', async () => {
  const root = tempDir()
  const one = await runMapJob({ jobPath: SQUARES, outDir: join(root, 'one'), total: 150, workers: 1 })
  const three = await runMapJob({ jobPath: SQUARES, outDir: join(root, 'three'), total: 150, workers: 3 })
  expect(three.digest).toBe(one.digest)
  expect(one.digest).toMatch(/^[0-9a-f]{64}$/)
})

it('same-job-or-refuse: a resume after the .py file or a local module it imports changed is refused, naming the file', async () => {
  const dir = tempDir()
  cpSync(FIXTURES, join(dir, 'job'), { recursive: true })
  const job = join(dir, 'job', 'squares.py')
  const out = join(dir, 'out')
  expect((await runMapJob({ jobPath: job, outDir: out, total: 20 })).state).toBe('complete')

  const original = readFileSync(join(dir, 'job', 'shapes', 'square.py'), 'utf8')
  writeFileSync(join(dir, 'job', 'shapes', 'square.py'), 'def square(n):\n    return n ** 2\n')
  const refused = await runMapJob({ jobPath: job, outDir: out, total: 20 }).catch((error: unknown) => error)
  expect(refused).toBeInstanceOf(FingerprintMismatchError)
  expect((refused as Error).message).toContain('job code changed (shapes/square.py)')
  writeFileSync(join(dir, 'job', 'shapes', 'square.py'), original)

  writeFileSync(job, `${readFileSync(job, 'utf8')}\n# edited\n`)
  const edited = await runMapJob({ jobPath: job, outDir: out, total: 20 }).catch((error: unknown) => error)
  expect((edited as Error).message).toContain('job code changed (squares.py)')
})

it('same-job-or-refuse: changed params of a Python job are refused; a param it does not declare is a usage error', async () => {
  const out = join(tempDir(), 'out')
  expect((await runMapJob({ jobPath: SQUARES, outDir: out, total: 10 })).state).toBe('complete')
  const changed = await runMapJob({ jobPath: SQUARES, outDir: out, total: 10, params: { scale: 2 } }).catch(
    (error: unknown) => error,
  )
  expect(changed).toBeInstanceOf(FingerprintMismatchError)
  expect((changed as Error).message).toContain('params changed ({"scale":1.5} → {"scale":2})')
  const unknown = await runMapJob({ jobPath: SQUARES, outDir: out, params: { size: 2 } }).catch(
    (error: unknown) => error,
  )
  expect(unknown).toBeInstanceOf(UsageError)
  expect((unknown as Error).message).toContain("has no param 'size'")
})

it('an item raising in Python fails the run (exit 1) naming the index and the job frame of the traceback; the items before it stay committed', async () => {
  const out = join(tempDir(), 'out')
  const failed = await runCli(['run', SQUARES, '--out', out, '--total', '100', '--workers', '2'], { FAIL_AT: '37' })
  expect(failed.code).toBe(EXIT.failed)
  expect(failed.stderr).toContain('item 37 failed after 1 attempt: ValueError: item 37 is the one FAIL_AT names')
  expect(failed.stderr).toMatch(/File ".*squares\.py", line \d+, in item/)
  // longhaul's own frames are cut: the traceback starts in the job.
  expect(failed.stderr).not.toMatch(/longhaul\.py", line/)
  const report = await verifyRun(out)
  expect(report.duplicates + report.corrupt).toBe(0)
  expect(report.items).toBeLessThan(100)
})
it('npy output of a Python job: verify recomputes every item hash from the files, and numpy loads the shards unchanged', async () => {
  const out = join(tempDir(), 'out')
  const summary = await runMapJob({ jobPath: join(FIXTURES, 'frames.py'), outDir: out, workers: 2 })
  expect(summary.state).toBe('complete')
  expect(await verifyRun(out)).toMatchObject({ complete: true, items: 120, corrupt: 0, digest: summary.digest })
  const loaded = execFileSync(
    'python3',
    [
      '-c',
      `import glob, numpy as np
frames = np.concatenate([np.load(f, mmap_mode="r") for f in sorted(glob.glob(${JSON.stringify(join(out, 'data'))} + "/*.frame.npy"))])
labels = np.concatenate([np.load(f) for f in sorted(glob.glob(${JSON.stringify(join(out, 'data'))} + "/*.label.npy"))])
scores = np.concatenate([np.load(f) for f in sorted(glob.glob(${JSON.stringify(join(out, 'data'))} + "/*.score.npy"))])
print(frames.shape, frames.dtype, labels.dtype, scores.dtype, scores.shape, labels[:6].tolist(), float(scores[7, 1]))`,
    ],
    { encoding: 'utf8' },
  )
  expect(loaded.trim()).toBe(`(120, 4, 3) uint8 uint8 float32 (120, 2) [0, 1, 2, 3, 0, 1] 1.0`)
})

it('gate: a Python job above the policy scale is refused without a proof (exit 3), naming the preflight that proves it; nothing is written', async () => {
  const out = join(tempDir(), 'out')
  const refused = await runCliHere(['run', SQUARES, '--out', out, '--total', '5000'])
  expect(refused.code).toBe(EXIT.refused)
  expect(refused.stderr).toContain(`npx longhaul preflight ${SQUARES} --target 5000 --out ${out}`)
  expect(existsSync(join(out, '.longhaul'))).toBe(false)
})

it('a .py file that fails to load, or declares no job, is refused (exit 2) saying why, with its traceback', async () => {
  const out = join(tempDir(), 'out')
  const raises = await runCliHere(['run', join(ROOT, 'test/fixtures/python/broken/raises.py'), '--out', out])
  expect(raises.code).toBe(EXIT.usage)
  expect(raises.stderr).toContain("failed to load: KeyError: 'frame'")
  expect(raises.stderr).toMatch(/File ".*raises\.py", line 4, in <module>/)
  expect(raises.stderr).not.toContain('<frozen importlib')
  const nojob = await runCliHere(['run', join(ROOT, 'test/fixtures/python/broken/nojob.py'), '--out', out])
  expect(nojob.code).toBe(EXIT.usage)
  expect(nojob.stderr).toContain('must call longhaul.define_job(...) exactly once; it called it 0 times')
  expect(existsSync(out)).toBe(false)
})
