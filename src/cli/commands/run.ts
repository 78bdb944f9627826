import { basename } from 'node:path'
import { loadJob } from '../../job/loadJob.ts'
import { parseParamPairs } from '../../job/params.ts'
import { runMapJob } from '../../runner/index.ts'
import { count, duration, rate } from '../../telemetry/progressText.ts'
import { EXIT } from '../exitCodes.ts'
import { bytes } from '../format.ts'
import type { Io } from '../io.ts'
import { runDisplay } from '../render/runDisplay.ts'

export interface RunCommandOptions {
  readonly out?: string
  readonly total?: number
  readonly workers?: number
  readonly seed?: number
  readonly param: readonly string[]
  readonly params?: string
  readonly fresh?: boolean
  readonly checkpointEvery?: number
  readonly progressEvery?: number
  readonly stallAfter?: number
  readonly json?: boolean
}

/** `longhaul run JOB`: runs or resumes a job; returns the exit code. */
export async function runCommand(jobPath: string, options: RunCommandOptions, io: Io, signal?: AbortSignal): Promise<number> {
  const params = parseParamPairs(options.param, options.params)
  const outDir = options.out ?? `runs/${(await loadJob(jobPath)).name}`
  const display = runDisplay({ stream: io.errStream, tty: io.errStream.isTTY === true })
  const result = await runMapJob({
    jobPath,
    outDir,
    params,
    ...(options.total !== undefined && { total: options.total }),
    ...(options.workers !== undefined && { workers: options.workers }),
    ...(options.seed !== undefined && { seed: options.seed }),
    ...(options.fresh && { fresh: true }),
    ...(options.checkpointEvery !== undefined && { checkpointEvery: options.checkpointEvery * 1000 }),
    ...(options.progressEvery !== undefined && { progressEvery: options.progressEvery * 1000 }),
    ...(options.stallAfter !== undefined && { stallAfter: options.stallAfter * 1000 }),
    ...(signal && { signal }),
    observer: display,
  }).finally(() => display.close())
  if (options.json) io.out(JSON.stringify(result))
  else {
    const head = result.state === 'complete' ? 'COMPLETE' : 'INTERRUPTED'
    io.out(
      [
        `${head}  ${result.job} → ${result.dir}`,
        `  items        ${count(result.committed)} / ${count(result.total)} (${count(result.committedThisSession)} this session)`,
        `  wall time    ${duration(result.wallMs / 1000)}`,
        `  items/s      ${rate(result.itemsPerSecond)}`,
        `  written      ${bytes(result.bytesWritten)}`,
        result.digest ? `  digest       ${result.digest}` : `  resume with  the same command (${basename(process.argv[1] ?? 'longhaul')} run … again)`,
      ].join('\n'),
    )
  }
  return result.state === 'complete' ? EXIT.ok : EXIT.interrupted
}
