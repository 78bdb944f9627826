/**
 * vitest's global setup: the `python3` the tests start is an interpreter with numpy and pytest (the one first on
 * PATH, else Debian's /usr/bin/python3, which scripts/test-prereqs.sh installs them for), and it is the interpreter
 * itself, not a version manager's shim.
 *
 * A `python3` first on PATH may be pyenv's shim, a shell script that works out which interpreter to run at every
 * start (about half a second of CPU, where the interpreter takes a tenth of that); the exec tests start Python some
 * hundred times. Asked once here which interpreter it runs, its folder goes first on PATH for every test file and
 * every process they start, so each `python3` is the same interpreter, started directly.
 */
import { execFileSync } from 'node:child_process'
import { realpathSync } from 'node:fs'
import { delimiter, dirname, join } from 'node:path'

/** The interpreter `command` runs, when it has what the tests import. */
function interpreter(command: string): string | undefined {
  try {
    return execFileSync(command, ['-c', 'import sys, numpy, pytest; print(sys.executable)'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim()
  } catch {
    return undefined
  }
}

export function setup(): (() => void) | undefined {
  const executable = interpreter('python3') ?? interpreter('/usr/bin/python3')
  if (executable === undefined) return undefined // No such python3: the tests that need it say so.
  const folder = dirname(executable)
  // Only where that folder's python3 is the interpreter found (a shim's target, not another build).
  try {
    if (realpathSync(join(folder, 'python3')) !== realpathSync(executable)) return undefined
  } catch {
    return undefined
  }
  const saved = process.env.PATH
  process.env.PATH = [folder, ...(saved ?? '').split(delimiter).filter((entry) => entry !== folder)].join(delimiter)
  return () => {
    process.env.PATH = saved
  }
}
