/**
 * What `longhaul.py describe JOB` answered, kept on disk (node_modules/.cache/longhaul/python-describe-*.json), so
 * that a run of an unchanged Python job, a resume above all, starts no Python process to learn it: that start, with
 * the job's imports and numpy's, would come before anything else of the run.
 *
 * An answer is used again only while everything it came from is the same: the content of the job file and of each
 * local module it imported (sha256, as the fingerprint hashes them), the names of the Python files and packages beside
 * the job (a new one could shadow what it imports), longhaul.py, the `python3` first on PATH (the file it resolves to)
 * and what a virtual environment or a version manager's shim chooses the interpreter by (VIRTUAL_ENV, CONDA_PREFIX,
 * PYTHONPATH, PYTHONHOME, PYENV_VERSION, the nearest .python-version file, pyenv's global version file), and the
 * interpreter and numpy it named (their files' size and mtime: an upgrade rewrites them). A job without numpy is
 * described every time (installing numpy would change its runtime unseen). Anything unreadable is a miss.
 */
import { createHash } from 'node:crypto'
import {
  accessSync,
  constants,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  realpathSync,
  statSync,
} from 'node:fs'
import { homedir } from 'node:os'
import { delimiter, dirname, join, parse } from 'node:path'
import { writeFileAtomic } from '../files/atomicFile.ts'
import { cacheDirFor } from './cacheDir.ts'
import { hashInputs } from './fingerprint.ts'

/** The answer of `describe` for the job file `jobFile` (absolute), when one was kept and nothing it depends on changed. */
export function cachedDescription(jobFile: string, helper: string): Record<string, unknown> | undefined {
  try {
    const place = where(jobFile, helper)
    if (!place) return undefined
    const kept = JSON.parse(readFileSync(place.file, 'utf8')) as Kept
    if (kept.key !== place.key || kept.state !== stateOf(jobFile, kept.answer)) return undefined
    return kept.answer
  } catch {
    return undefined
  }
}

/** Keeps a successful answer of `describe` for cachedDescription; a failure to keep it only costs the next run a start. */
export function keepDescription(jobFile: string, helper: string, answer: Record<string, unknown>): void {
  try {
    if (typeof answer.numpyFile !== 'string') return
    const place = where(jobFile, helper)
    if (!place) return
    const kept: Kept = { key: place.key, state: stateOf(jobFile, answer), answer }
    mkdirSync(dirname(place.file), { recursive: true })
    writeFileAtomic(dirname(place.file), parse(place.file).base, [Buffer.from(JSON.stringify(kept))])
  } catch {
    // An unwritable cache folder: the job is described again next time.
  }
}

interface Kept {
  /** What chooses the interpreter and longhaul.py, for this job file. */
  readonly key: string
  /** The job's files and the interpreter's, as they were when it was described. */
  readonly state: string
  readonly answer: Record<string, unknown>
}

function where(jobFile: string, helper: string): { file: string; key: string } | undefined {
  // A job with no node_modules above it (a Python project) keeps it in longhaul's own.
  const dir = cacheDirFor(jobFile) ?? cacheDirFor(helper)
  if (!dir) return undefined
  const python = onPath('python3')
  const env = process.env
  const key = JSON.stringify({
    jobFile,
    helper: hashFile(helper),
    python: python && stamp(realpathSync(python)),
    pythonPath: python,
    env: ['VIRTUAL_ENV', 'CONDA_PREFIX', 'PYTHONPATH', 'PYTHONHOME', 'PYENV_VERSION', 'PYENV_ROOT'].map(
      (name) => env[name],
    ),
    versionFile: nearestFile(process.cwd(), '.python-version'),
    pyenvGlobal: readOrNull(join(env.PYENV_ROOT ?? join(homedir(), '.pyenv'), 'version')),
  })
  const name = createHash('sha256').update(jobFile).digest('hex').slice(0, 16)
  return { file: join(dir, `python-describe-${name}.json`), key: createHash('sha256').update(key).digest('hex') }
}

/** The job's files, the Python names beside it, and the interpreter and numpy that described it. */
function stateOf(jobFile: string, answer: Record<string, unknown>): string {
  const modules = answer.modules as string[]
  // Python files and packages: not the run folders, caches and logs that come and go beside a job.
  const folder = dirname(jobFile)
  const beside = readdirSync(folder, { withFileTypes: true })
    .filter((entry) =>
      entry.isDirectory() ? existsSync(join(folder, entry.name, '__init__.py')) : entry.name.endsWith('.py'),
    )
    .map((entry) => entry.name)
    .sort()
  const numpy = answer.numpyFile as string
  return JSON.stringify({
    modules: hashInputs(jobFile, modules),
    beside,
    executable: stamp(answer.executable as string),
    numpy: [stamp(numpy), stamp(join(dirname(numpy), 'version.py'))],
  })
}

function hashFile(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex')
}

function stamp(path: string): string {
  const { size, mtimeMs, ino } = statSync(path)
  return `${size}:${mtimeMs}:${ino}`
}

function onPath(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    const candidate = join(dir || '.', name)
    try {
      accessSync(candidate, constants.X_OK)
      return candidate
    } catch {}
  }
  return undefined
}

/** The content of the file `name` nearest above `from` (a version manager's local version), or null. */
function nearestFile(from: string, name: string): string | null {
  for (let dir = from; ; dir = dirname(dir)) {
    const content = readOrNull(join(dir, name))
    if (content !== null || dir === parse(dir).root) return content
  }
}

function readOrNull(path: string): string | null {
  try {
    return readFileSync(path, 'utf8')
  } catch {
    return null
  }
}
