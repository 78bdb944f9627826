import { createHash } from 'node:crypto'
import { existsSync, readFileSync, realpathSync } from 'node:fs'
import { dirname, join, relative, resolve, sep } from 'node:path'
import type { Plugin } from 'esbuild'
import stringify from 'safe-stable-stringify'
import { UsageError } from '../errors.ts'
import { MAJOR } from '../version.ts'
import { hashJobFiles } from './jobFiles.ts'

/**
 * Everything an item's bytes may depend on (invariant determinism), kept with
 * the run so that a resume with anything different is refused and the
 * refusal can name what changed (invariant same-job-or-refuse).
 */
export interface JobIdentity {
  readonly job: string
  /**
   * sha256 of the job file, each local file it imports, and the files it
   * depends on without importing them (its `files`, or by default the scripts
   * beside it: see jobFiles.ts), by path relative to the job file's folder.
   */
  readonly sources: Readonly<Record<string, string>>
  readonly params: unknown
  readonly seed: number
  readonly output: unknown
  /** The input's description and content digest, for input-driven jobs. */
  readonly input: { readonly description: unknown; readonly digest: string } | null
  /** sha256 of the nearest lockfile above the job (dependencies are code too), or null when there is none. */
  readonly lockfile: string | null
  /** A Python job's interpreter and numpy (what its lockfile would pin); absent for a TypeScript job. */
  readonly runtime?: RuntimeVersions
  readonly longhaulMajor: number
}

/** The interpreter's major.minor and numpy's exact version (null: not installed) a Python job's items are made with. */
export interface RuntimeVersions {
  readonly python: string
  readonly numpy: string | null
}

const LOCKFILES = ['package-lock.json', 'npm-shrinkwrap.json', 'pnpm-lock.yaml', 'yarn.lock', 'bun.lock']

/** sha256 of the lockfile nearest above the job file, or null. */
export function hashLockfile(jobPath: string): string | null {
  for (let dir = dirname(resolve(jobPath)); ; dir = dirname(dir)) {
    for (const name of LOCKFILES) {
      const path = join(dir, name)
      if (existsSync(path)) return createHash('sha256').update(readFileSync(path)).digest('hex')
    }
    if (dirname(dir) === dir) return null
  }
}

/**
 * The job module's own source and every file it imports that is not an
 * installed package, hashed: its local files, and workspace packages (a
 * package whose real path is outside node_modules is the team's own code,
 * not a dependency the lockfile pins). longhaul itself is covered by its
 * major version.
 */
export async function hashSources(jobPath: string): Promise<Record<string, string>> {
  const entry = resolve(jobPath)
  const { build } = await import('esbuild')
  const result = await build({
    entryPoints: [entry],
    bundle: true,
    write: false,
    metafile: true,
    platform: 'node',
    format: 'esm',
    logLevel: 'silent',
    absWorkingDir: dirname(entry),
    plugins: [installedPackagesExternal],
  }).catch((error: Error) => {
    throw jobDoesNotCompile(jobPath, error)
  })
  return hashInputs(entry, Object.keys(result.metafile.inputs))
}

/** The job's compile error, for its author. */
export function jobDoesNotCompile(jobPath: string, error: Error): UsageError {
  return new UsageError(`job file ${jobPath} does not compile: ${error.message}`, 'LONGHAUL_JOB_INVALID')
}

/**
 * The files an esbuild build of the job read (its metafile's inputs, by path relative to the job's folder), hashed by
 * path relative to the job's folder.
 */
export function hashInputs(jobFile: string, inputs: readonly string[]): Record<string, string> {
  const sources: Record<string, string> = {}
  for (const input of [...inputs].sort()) {
    const absolute = resolve(dirname(jobFile), input)
    sources[relative(dirname(jobFile), absolute)] = createHash('sha256').update(readFileSync(absolute)).digest('hex')
  }
  return sources
}

/**
 * Every file of the job's code, hashed: what it imports (hashSources) and
 * what it declares or keeps beside it (hashJobFiles), in one map by path.
 */
export async function hashCode(
  jobPath: string,
  files: readonly string[] | undefined,
  imported: Promise<Record<string, string>> = hashSources(jobPath),
): Promise<Record<string, string>> {
  const [sources, beside] = await Promise.all([imported, hashJobFiles(jobPath, files)])
  const all: Record<string, string> = { ...beside, ...sources }
  return Object.fromEntries(
    Object.keys(all)
      .sort()
      .map((file) => [file, all[file]!]),
  )
}

/** Bare imports stay external when they resolve into node_modules (or are longhaul); workspace packages are followed. */
export const installedPackagesExternal: Plugin = {
  name: 'installed-packages-external',
  setup(build) {
    build.onResolve({ filter: /^[^./]/ }, async (args) => {
      // The plugin's own lookup below goes to esbuild's resolver.
      if (args.pluginData === RESOLVING) return undefined
      if (args.path === 'longhaul' || args.path.startsWith('longhaul/') || args.path.startsWith('node:'))
        return { external: true }
      const found = await build.resolve(args.path, {
        kind: args.kind,
        resolveDir: args.resolveDir,
        importer: args.importer,
        pluginData: RESOLVING,
      })
      if (found.errors.length > 0 || found.external || !found.path) return { external: true }
      const real = realpathSync(found.path)
      return real.split(sep).includes('node_modules') ? { external: true } : { path: real }
    })
  },
}
const RESOLVING = Symbol('resolving')

export function makeIdentity(parts: Omit<JobIdentity, 'longhaulMajor'>): JobIdentity {
  return { ...parts, longhaulMajor: MAJOR }
}

/** sha256 of the identity's canonical JSON. */
export function fingerprintOf(identity: JobIdentity): string {
  return createHash('sha256').update(canonical(identity)).digest('hex')
}

export function canonical(value: unknown): string {
  return stringify(value) ?? 'null'
}

/** Says, in words, how `current` differs from `stored`; empty when they are the same job. */
export function describeChanges(stored: JobIdentity, current: JobIdentity): string[] {
  // A run of `longhaul exec` records a supervised command, not a job.
  if (typeof stored.sources !== 'object' || stored.sources === null)
    return [`it holds a supervised program's run (longhaul exec of '${String(stored.job)}'), not a job's`]
  const changes: string[] = []
  if (stored.job !== current.job) changes.push(`job name changed (${stored.job} → ${current.job})`)
  const files = changedFiles(stored, current)
  if (files.length) changes.push(`job code changed (${files.join(', ')})`)
  if (canonical(stored.params) !== canonical(current.params)) {
    changes.push(`params changed (${canonical(stored.params)} → ${canonical(current.params)})`)
  }
  if (stored.seed !== current.seed) changes.push(`seed changed (${stored.seed} → ${current.seed})`)
  if (canonical(stored.output) !== canonical(current.output))
    changes.push(`output format changed (${canonical(stored.output)} → ${canonical(current.output)})`)
  if (canonical(stored.input) !== canonical(current.input))
    changes.push(`input changed (${inputName(stored.input ?? current.input)}: its content or location differs)`)
  if (stored.lockfile !== current.lockfile) changes.push('dependencies changed (the lockfile differs)')
  if (stored.runtime?.python !== current.runtime?.python)
    changes.push(`Python changed (${stored.runtime?.python ?? 'none'} → ${current.runtime?.python ?? 'none'})`)
  if (stored.runtime?.numpy !== current.runtime?.numpy)
    changes.push(`numpy changed (${stored.runtime?.numpy ?? 'none'} → ${current.runtime?.numpy ?? 'none'})`)
  if (stored.longhaulMajor !== current.longhaulMajor) {
    changes.push(`longhaul major version changed (${stored.longhaulMajor} → ${current.longhaulMajor})`)
  }
  return changes
}

/** The input as its job names it: its path, or its files' glob or list. */
function inputName(input: JobIdentity['input']): string {
  const d = input?.description as { path?: unknown; pattern?: unknown } | undefined
  const named = d?.path ?? d?.pattern
  return named === undefined ? 'the input' : Array.isArray(named) ? named.join(', ') : String(named)
}

/** The job's files whose content differs between the two identities: edited, added or gone, by path relative to the job's folder. */
export function changedFiles(stored: JobIdentity, current: JobIdentity): string[] {
  if (typeof stored.sources !== 'object' || stored.sources === null) return []
  const files = new Set([...Object.keys(stored.sources), ...Object.keys(current.sources)])
  return [...files].sort().filter((file) => stored.sources[file] !== current.sources[file])
}
