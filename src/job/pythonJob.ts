/**
 * A map job written in Python (`longhaul run gen.py`): the job file declares
 * itself with `longhaul.define_job(...)` (python/longhaul.py), and longhaul
 * learns that declaration by asking Python: `python3 longhaul.py describe
 * JOB` imports the file and writes what it declared, and which of the job's
 * own modules it imported, over a private channel. The MapJob made from it
 * carries everything the runner, the journal and `verify` need; its items are
 * made by Python worker processes (work/map/pythonPool.ts), never here.
 */
import { spawn } from 'node:child_process'
import { statSync } from 'node:fs'
import { delimiter, dirname, resolve } from 'node:path'
import type { Readable } from 'node:stream'
import { fileURLToPath } from 'node:url'
import { z } from 'zod'
import { LonghaulError, UsageError } from '../errors.ts'
import { JOB_BRAND, type MapJob } from './defineJob.ts'
import { hashInputs, type RuntimeVersions } from './fingerprint.ts'
import { inputFromDescription } from './inputs/fromDescription.ts'
import { formatFromDescription } from './outputs/fromDescription.ts'
import { cachedDescription, keepDescription } from './pythonDescribeCache.ts'
import { limitsOfOption, type RateLimitOption } from './rateLimit.ts'

/** longhaul's Python module: the job's `import longhaul`, and the entry of describe and the worker processes. */
export const PYTHON_HELPER = fileURLToPath(new URL('../../python/longhaul.py', import.meta.url))

/** The interpreter Python jobs run with: the `python3` first on PATH (an activated virtual environment's). */
export const PYTHON = 'python3'

/** The fd number of the private channel in a Python process longhaul starts (it moves it off that number at once). */
export const CHANNEL_FD = 3

export function isPythonJobPath(jobPath: string): boolean {
  return jobPath.endsWith('.py')
}

/** The environment of a Python process longhaul starts: `import longhaul` finds longhaul's own module first. */
export function pythonEnv(): NodeJS.ProcessEnv {
  const path = process.env.PYTHONPATH
  return {
    ...process.env,
    PYTHONPATH: path ? `${dirname(PYTHON_HELPER)}${delimiter}${path}` : dirname(PYTHON_HELPER),
    LONGHAUL_WORKER_FD: String(CHANNEL_FD),
    LONGHAUL_COORDINATOR_PID: String(process.pid),
  }
}

/** What `define_job` declared, as `longhaul.py describe` writes it. */
const declarationSchema = z.object({
  name: z.string(),
  /** Null for an input job: its total is the input's record count. */
  total: z.number().int().positive().nullable(),
  seed: z.number().int().nonnegative(),
  params: z.record(z.string(), z.unknown()),
  output: z.record(z.string(), z.unknown()),
  retries: z.number().int().nonnegative(),
  checkpointEvery: z.number().int().positive(),
  validate: z.boolean(),
  /** The names of its dataset checks, in their declared order. */
  datasetChecks: z.array(z.string()),
  /** An input job's input, described as jsonl_input/csv_input/files_input declare it; null for a generator. */
  input: z.record(z.string(), z.unknown()).nullable(),
  /** The interpreter's major.minor and numpy's version: part of the fingerprint. */
  runtime: z.object({ python: z.string(), numpy: z.string().nullable() }),
  /** Absolute paths of the job file and the local modules it imported. */
  modules: z.array(z.string()),
  /** The interpreter itself (sys.executable): workers start it directly, not through a version manager's shim. */
  executable: z.string(),
  /** define_job's `concurrency`, and whether `item` is an `async def` (only such an item may have many in flight). */
  concurrency: z.number().int().positive().nullable(),
  asyncItem: z.boolean(),
  /** define_job's `rate_limit`, as TypeScript's `rateLimit` option: `{ per, requests?, tokens?, … }`; null: none. */
  rateLimit: z
    .object({ per: z.enum(['second', 'minute', 'hour']) })
    .catchall(z.number().positive())
    .nullable(),
})

interface Described {
  readonly job: MapJob
  readonly executable: string
  /** The size and mtime of each of its modules when it was described. */
  readonly stamp: string
}

/**
 * The last declaration of each job file in this process, kept while none of its modules changed: a run asks twice
 * (the command, then the run's identity), and each answer costs a Python start and the job's imports.
 */
const described = new Map<string, Described>()

function stampOf(modules: readonly string[]): string | undefined {
  try {
    return modules
      .map((module) => {
        const { size, mtimeMs } = statSync(module)
        return `${module}\t${size}\t${mtimeMs}`
      })
      .join('\n')
  } catch {
    return undefined
  }
}

/**
 * The Python that runs the job's workers: the interpreter its description ran in (in this process, or kept on disk
 * while nothing it depends on changed), else `python3` from PATH.
 */
export function pythonFor(jobPath: string): string {
  const file = resolve(jobPath)
  const executable = described.get(file)?.executable ?? keptExecutable(file)
  return typeof executable === 'string' ? executable : PYTHON
}

/** The kept description's interpreter, looked up once a process: each worker started before the job is described asks. */
const keptExecutables = new Map<string, unknown>()
function keptExecutable(file: string): unknown {
  if (!keptExecutables.has(file)) keptExecutables.set(file, cachedDescription(file, PYTHON_HELPER)?.executable)
  return keptExecutables.get(file)
}

/** The job's own Python files it imported, by MapJob: what its fingerprint hashes besides the files beside it. */
const importedModules = new WeakMap<MapJob, readonly string[]>()

/** Asks Python what the job file at `jobPath` declares; a file that fails to import or declares no job is refused, saying why. */
export async function loadPythonJob(jobPath: string): Promise<MapJob> {
  const file = resolve(jobPath)
  const last = described.get(file)
  if (last && stampOf(importedModules.get(last.job) ?? []) === last.stamp) return last.job
  const kept = cachedDescription(file, PYTHON_HELPER)
  const answer = kept ?? (await askPython(jobPath, ['describe', file]))
  if (typeof answer.error === 'string') {
    throw new UsageError(
      `job file ${jobPath} failed to load: ${answer.error}${typeof answer.stack === 'string' ? `\n${answer.stack}` : ''}`,
      'LONGHAUL_JOB_INVALID',
    )
  }
  const declared = declarationSchema.safeParse(answer)
  if (!declared.success) {
    throw new UsageError(
      `job file ${jobPath}: longhaul.py answered what this longhaul cannot read (${z.prettifyError(declared.error)}); is another longhaul.py first on PYTHONPATH?`,
      'LONGHAUL_JOB_INVALID',
    )
  }
  const d = declared.data
  let output: MapJob['output']
  let input: MapJob['input']
  try {
    output = formatFromDescription(d.output)
    input = d.input ? inputFromDescription(d.input) : undefined
  } catch (error) {
    throw new UsageError(`job file ${jobPath}: ${(error as Error).message}`, 'LONGHAUL_JOB_INVALID')
  }
  const job: MapJob = {
    [JOB_BRAND]: 'map',
    name: d.name,
    params: paramsSchema(d.params),
    output,
    input,
    total: d.total ?? undefined,
    seed: d.seed,
    checkpointEvery: d.checkpointEvery,
    retries: d.retries,
    rateLimit: limitsOfOption((d.rateLimit ?? undefined) as RateLimitOption | undefined),
    concurrency: d.concurrency ?? undefined,
    item: () => {
      throw new UsageError(`the items of ${jobPath} are made by its Python worker processes`)
    },
    // Declared in Python, where it runs: pythonValidation gives preflight its verdicts over a run's records.
    validate: d.validate
      ? () => {
          throw new UsageError(`the validate function of ${jobPath} runs in Python: use pythonValidation`)
        }
      : undefined,
    // Each runs in Python too, over the rehearsal's records (pythonValidation).
    datasetChecks: Object.fromEntries(
      d.datasetChecks.map((name) => [
        name,
        () => {
          throw new UsageError(`the dataset check '${name}' of ${jobPath} runs in Python: use pythonValidation`)
        },
      ]),
    ),
    files: undefined,
  }
  importedModules.set(job, d.modules)
  if (d.asyncItem) asyncItems.add(job)
  runtimes.set(job, d.runtime)
  const stamp = stampOf(d.modules)
  if (stamp !== undefined) described.set(file, { job, executable: d.executable, stamp })
  if (!kept) keepDescription(file, PYTHON_HELPER, answer)
  return job
}

/** The Python jobs whose `item` is an `async def`: their workers may have many items in flight (`--concurrency`). */
const asyncItems = new WeakSet<object>()

/** Whether a Python job's items are coroutines, which its workers can run many at once on an asyncio loop. */
export function hasAsyncItem(job: object): boolean {
  return asyncItems.has(job)
}

/** The interpreter and numpy a Python job was described with, by MapJob. */
const runtimes = new WeakMap<MapJob, RuntimeVersions>()

/** For a Python job: the Python major.minor and numpy version its items are made with (part of its fingerprint); else undefined. */
export function pythonRuntime(job: MapJob): RuntimeVersions | undefined {
  return runtimes.get(job)
}

/**
 * For a Python input job: the coordinator's reader of the input's records, from the scan's handle, for the worker
 * processes (they get each range's records over their channel); undefined for any other job.
 */
export function pythonRecordReader(
  jobPath: string,
  handle: unknown,
): ((start: number, end: number) => unknown[]) | undefined {
  if (handle === undefined) return undefined
  const input = described.get(resolve(jobPath))?.job.input
  if (!input)
    throw new LonghaulError(
      'LONGHAUL_JOB_INVALID',
      `the input of ${jobPath} was scanned, but its declaration is no longer known (was the file changed while the run started?): run the same command again`,
    )
  return input.reader(handle)
}

/** What a Python job's validate and dataset checks said of a run's records (preflight's validation evidence). */
export interface PythonValidation {
  readonly count: number
  readonly rejected: number
  readonly firstRejected: readonly { readonly index: number; readonly reason: string }[]
  readonly datasets: readonly { readonly name: string; readonly passed: boolean; readonly reason: string | null }[]
}

/**
 * For a Python job that declares validate or dataset checks: runs them, in Python, over every record of the run in
 * `dir`; else undefined.
 */
export function pythonValidation(
  job: MapJob,
  jobPath: string,
): ((dir: string) => Promise<PythonValidation>) | undefined {
  if (!importedModules.has(job) || (job.validate === undefined && Object.keys(job.datasetChecks).length === 0))
    return undefined
  return async (dir) => {
    const answer = await askPython(jobPath, ['validate', resolve(jobPath), resolve(dir)], pythonFor(jobPath))
    if (typeof answer.error === 'string') {
      throw new UsageError(
        `the validators of ${jobPath} could not be run over ${dir}: ${answer.error}${typeof answer.stack === 'string' ? `\n${answer.stack}` : ''}`,
        'LONGHAUL_JOB_INVALID',
      )
    }
    return answer as unknown as PythonValidation
  }
}

/**
 * For a Python job: its file and the local modules it imported, hashed by path relative to the job's folder (part of
 * its fingerprint, so editing one refuses a resume naming it); undefined for a job of any other kind.
 */
export function pythonSources(job: MapJob, jobPath: string): Promise<Record<string, string>> | undefined {
  const modules = importedModules.get(job)
  return modules && Promise.resolve(hashInputs(resolve(jobPath), modules))
}

/**
 * The params schema of a Python job: its declared defaults, each checked as the same kind of JSON value (a number
 * stays a number), and no other names.
 */
function paramsSchema(defaults: Readonly<Record<string, unknown>>): z.ZodType {
  const shape: Record<string, z.ZodType> = {}
  for (const [name, value] of Object.entries(defaults)) {
    const kind: z.ZodType =
      typeof value === 'number'
        ? z.number()
        : typeof value === 'string'
          ? z.string()
          : typeof value === 'boolean'
            ? z.boolean()
            : z.unknown()
    shape[name] = kind.default(value as never)
  }
  return z.object(shape)
}

/** Runs `longhaul.py MODE JOB …`; its answer comes over the private channel, so the job's own prints cannot garble it. */
function askPython(jobPath: string, args: readonly string[], python = PYTHON): Promise<Record<string, unknown>> {
  return new Promise((resolveAnswer, reject) => {
    const child = spawn(python, [PYTHON_HELPER, ...args], {
      env: pythonEnv(),
      stdio: ['ignore', 'ignore', 'pipe', 'pipe'],
    })
    let answer = ''
    let stderr = ''
    ;(child.stdio[CHANNEL_FD] as Readable).on('data', (chunk: Buffer) => (answer += chunk.toString()))
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
    child.on('error', (error: NodeJS.ErrnoException) =>
      reject(
        error.code === 'ENOENT'
          ? new UsageError(
              `${jobPath} is a Python job, and there is no ${python} on PATH: install Python 3 (with numpy for rng and npy output), or activate the environment that has it`,
            )
          : error,
      ),
    )
    child.on('close', (code) => {
      try {
        resolveAnswer(JSON.parse(answer) as Record<string, unknown>)
      } catch {
        reject(
          new UsageError(
            `job file ${jobPath} failed to load: ${python} ended (exit code ${code}) without answering${stderr ? `:\n${stderr.trim()}` : ''}`,
            'LONGHAUL_JOB_INVALID',
          ),
        )
      }
    })
  })
}
