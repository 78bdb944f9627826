import { createHash } from 'node:crypto'
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import type { RunPaths } from '../files/runPaths.ts'
import type { RunRecord } from '../journal/store.ts'
import { FINAL_FILE, listCheckpoints, readCheckpoint } from '../work/loop/checkpoints.ts'
import type { VerifyReport } from './verifyReport.ts'

/**
 * `verify` for a loop run: every checkpoint in data/ is read whole and
 * checked (header, size, the state's sha256); a complete run's final.bin
 * must hash to the digest its run recorded as it completed
 * (`RunRecord.finalDigest`). The digest is final.bin's sha256, as `run`
 * printed it.
 */
export async function verifyLoopRun(run: RunRecord, paths: RunPaths): Promise<VerifyReport> {
  const problems: string[] = []
  const checkpoints = listCheckpoints(paths.data)
  let corrupt = 0
  let newestStep = 0
  for (const { file, step } of checkpoints) {
    const read = readCheckpoint(paths.data, file, { fingerprint: run.fingerprint })
    if ('corrupt' in read) {
      corrupt++
      problems.push(`checkpoint ${file} is corrupt: ${read.corrupt}`)
    } else newestStep = Math.max(newestStep, step)
  }
  const recorded = run.finalDigest
  let digest: string | null = null
  if (run.state === 'complete' && recorded) {
    const final = join(paths.data, FINAL_FILE)
    const actual = existsSync(final) ? createHash('sha256').update(readFileSync(final)).digest('hex') : null
    if (actual === recorded) digest = actual
    else {
      corrupt++
      problems.push(
        actual === null
          ? `${FINAL_FILE} is missing`
          : `${FINAL_FILE} does not match the digest its run recorded (${actual.slice(0, 12)}… ≠ ${recorded.slice(0, 12)}…)`,
      )
    }
  } else
    problems.push(
      `the loop is not complete: its newest intact checkpoint is at step ${newestStep} of ${run.total}; run the same command to finish it`,
    )
  const known = new Set([FINAL_FILE, ...checkpoints.map((c) => c.file)])
  const stray = readdirSync(paths.data).filter((name) => !known.has(name))
  const steps = digest ? run.total : newestStep
  return {
    dir: paths.dir,
    job: run.job,
    complete: digest !== null && corrupt === 0,
    total: run.total,
    items: steps,
    missing: run.total - steps,
    duplicates: 0,
    corrupt,
    stray,
    digest,
    problems: problems.slice(0, 20),
    unit: 'steps',
  }
}
