import { isPythonJobPath } from '../../job/pythonJob.ts'
import { preparePythonPool } from './pythonPool.ts'
import { type PreparedPool, prepareThreadPool } from './threadPool.ts'

/**
 * What makes the items of the job at `jobPath`: Python worker processes for a `.py` job (`workers` of them, started
 * now), else JS worker threads.
 */
export function prepareMaker(jobPath: string, workers: number): PreparedPool {
  return isPythonJobPath(jobPath) ? preparePythonPool(jobPath, workers) : prepareThreadPool(jobPath)
}
