import { createHash } from 'node:crypto'
import { existsSync, readFileSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import { build } from 'esbuild'
import stringify from 'safe-stable-stringify'
import { UsageError } from '../errors.ts'
import { MAJOR } from '../version.ts'

/**
 * Everything an item's bytes may depend on (invariant determinism), kept with
 * the run so that a resume with anything different is refused and the
 * refusal can name what changed (invariant same-job-or-refuse).
 */
export interface JobIdentity {
  readonly job: string
  /** sha256 of the job file and each local file it imports, by path relative to the job file. */
  readonly sources: Readonly<Record<string, string>>
  readonly params: unknown
  readonly seed: number
  readonly output: unknown
  /** The input's description and content digest, for input-driven jobs. */
  readonly input: { readonly description: unknown; readonly digest: string } | null
  /** sha256 of the nearest lockfile above the job (dependencies are code too), or null when there is none. */
  readonly lockfile: string | null
  readonly longhaulMajor: number
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

/** The job module's own source and its local imports (not packages), hashed. */
export async function hashSources(jobPath: string): Promise<Record<string, string>> {
  const entry = resolve(jobPath)
  const result = await build({
    entryPoints: [entry],
    bundle: true,
    write: false,
    metafile: true,
    packages: 'external',
    platform: 'node',
    format: 'esm',
    logLevel: 'silent',
    absWorkingDir: dirname(entry),
  }).catch((error: Error) => {
    throw new UsageError(`job file ${jobPath} does not compile: ${error.message}`, 'LONGHAUL_JOB_INVALID')
  })
  const sources: Record<string, string> = {}
  for (const input of Object.keys(result.metafile.inputs).sort()) {
    const absolute = resolve(dirname(entry), input)
    sources[relative(dirname(entry), absolute)] = createHash('sha256').update(readFileSync(absolute)).digest('hex')
  }
  return sources
}

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
  const changes: string[] = []
  if (stored.job !== current.job) changes.push(`job name changed (${stored.job} → ${current.job})`)
  const files = new Set([...Object.keys(stored.sources), ...Object.keys(current.sources)])
  const changedFiles = [...files].filter((file) => stored.sources[file] !== current.sources[file])
  if (changedFiles.length) changes.push(`job code changed (${changedFiles.join(', ')})`)
  if (canonical(stored.params) !== canonical(current.params)) {
    changes.push(`params changed (${canonical(stored.params)} → ${canonical(current.params)})`)
  }
  if (stored.seed !== current.seed) changes.push(`seed changed (${stored.seed} → ${current.seed})`)
  if (canonical(stored.output) !== canonical(current.output)) changes.push(`output format changed (${canonical(stored.output)} → ${canonical(current.output)})`)
  if (canonical(stored.input) !== canonical(current.input)) changes.push('input changed (its content or location differs)')
  if (stored.lockfile !== current.lockfile) changes.push('dependencies changed (the lockfile differs)')
  if (stored.longhaulMajor !== current.longhaulMajor) {
    changes.push(`longhaul major version changed (${stored.longhaulMajor} → ${current.longhaulMajor})`)
  }
  return changes
}
