import { existsSync } from 'node:fs'
import { resolve } from 'node:path'
import { UsageError } from '../errors.ts'
import { isMapJob, type MapJob } from './defineJob.ts'
import { isLoopJob, type LoopJob } from './defineLoop.ts'
import { importUserFile } from './importUserFile.ts'
import { isPythonJobPath, loadPythonJob } from './pythonJob.ts'

/** How a job file is imported: to its module namespace. */
export type ImportJobFile = (path: string) => Promise<Record<string, unknown>>

/**
 * Imports a map job file and returns its default export, or says clearly why it cannot. `importFile` is how: a
 * command that runs the job passes the compiled import of work/map/workerBundle.ts.
 */
export async function loadJob(path: string, importFile: ImportJobFile = importUserFile): Promise<MapJob> {
  const job = await loadAnyJob(path, importFile)
  if (isLoopJob(job)) {
    throw new UsageError(
      `${path} is a loop job (defineLoop); this command takes a map job (defineJob).`,
      'LONGHAUL_JOB_INVALID',
    )
  }
  return job
}

/** Imports a job file of either kind, map (defineJob) or loop (defineLoop), and returns its default export. */
export async function loadAnyJob(path: string, importFile: ImportJobFile = importUserFile): Promise<MapJob | LoopJob> {
  const absolute = resolve(path)
  if (!existsSync(absolute)) {
    throw new UsageError(
      `job file ${path} does not exist. Give the path to a .ts or .js file whose default export is defineJob({...}).`,
      'LONGHAUL_JOB_INVALID',
    )
  }
  if (isPythonJobPath(absolute)) return await loadPythonJob(path)
  let module: Record<string, unknown>
  try {
    module = await importFile(absolute)
  } catch (error) {
    throw new UsageError(`job file ${path} failed to load: ${(error as Error).message}`, 'LONGHAUL_JOB_INVALID', {
      cause: error,
    })
  }
  const job = module.default
  if (job === undefined) {
    throw new UsageError(
      `job file ${path} has no default export. End it with 'export default defineJob({...})'.`,
      'LONGHAUL_JOB_INVALID',
    )
  }
  if (!isMapJob(job) && !isLoopJob(job)) {
    throw new UsageError(
      `the default export of ${path} is not a job. Export the result of defineJob({...}) or defineLoop({...}) from 'longhaul'.`,
      'LONGHAUL_JOB_INVALID',
    )
  }
  return job
}
