import { isPythonJobPath } from '../../job/pythonJob.ts'
import { preparePythonPool } from './pythonPool.ts'
import type { PreparedPool } from './threadPool.ts'

/**
 * What makes the items of the job at `jobPath`: Python worker processes for a `.py` job (`workers` of them, started
 * now), else JS worker threads. The thread pool's modules (esbuild, piscina: a few hundred ms to import) load only
 * for a job that uses them.
 */
export function prepareMaker(jobPath: string, workers: number): PreparedPool {
  if (isPythonJobPath(jobPath)) return preparePythonPool(jobPath, workers)
  const pool = import('./threadPool.ts').then(({ prepareThreadPool }) => prepareThreadPool(jobPath))
  return {
    abandon: async () => await (await pool).abandon(),
    start: async (how) => await (await pool).start(how),
  }
}
