import { existsSync } from 'node:fs'
import { dirname, join, parse } from 'node:path'

/** The node_modules folder nearest above `from` (itself included), or undefined when there is none. */
export function nearestNodeModules(from: string): string | undefined {
  for (let dir = from; ; dir = dirname(dir)) {
    const candidate = join(dir, 'node_modules')
    if (existsSync(candidate)) return candidate
    if (dir === parse(dir).root) return undefined
  }
}

/** Where longhaul keeps what it derived from a job's files, for the job at `jobFile`: node_modules/.cache/longhaul. */
export function cacheDirFor(jobFile: string): string | undefined {
  const modules = nearestNodeModules(dirname(jobFile))
  return modules && join(modules, '.cache', 'longhaul')
}
