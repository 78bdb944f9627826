import { createHash } from 'node:crypto'
import { createReadStream, existsSync, readdirSync } from 'node:fs'
import { dirname, relative, resolve, sep } from 'node:path'
import { pipeline } from 'node:stream/promises'
import { glob, isDynamicPattern } from 'tinyglobby'
import { UsageError } from '../errors.ts'
import { PROOFS_DIR, runPaths } from '../files/runPaths.ts'

/**
 * The files a job runs without importing them: a script it spawns
 * (`server.py`), prompts it reads. The import graph cannot see them, so they
 * are named by the job's `files` globs, relative to the job file's folder;
 * without `files`, the scripts beside the job are taken (DEFAULT_JOB_FILES).
 * Each is hashed into the job's identity, so that editing one makes a new
 * fingerprint: a resume is refused naming it, and an old proof no longer
 * counts (invariant same-job-or-refuse).
 *
 * The default is the job's own folder only, not its subfolders, so a data
 * folder or a run folder beside the job (runs/…) is never read; and only
 * program sources, not data (`.json`, `.txt`, `.csv`, inputs), which the job
 * declares in `files` when they shape its items. Whatever the globs say, the
 * files of a longhaul run folder (its journal, data/, proofs/, progress files)
 * are never part of the identity: --out may lie anywhere, even in the job's
 * folder, and the fingerprint stays the same.
 */
export const DEFAULT_JOB_FILES = ['*.{py,sh,bash,zsh,R,r,jl,rb,pl,lua,js,mjs,cjs,ts,mts,cts}'] as const

/** Beside a job, these are tests, type declarations and the policy, not code the job runs. */
const DEFAULT_EXCLUDED = ['*.test.*', '*.spec.*', '*.d.ts', '*.d.mts', '*.d.cts', 'longhaul.config.*']

/** A run folder's own files at its top level; the rest of what it writes is in data/, proofs/ and .longhaul/. */
const RUN_TOP_FILES = new Set(['progress.json', 'PROGRESS.txt'])
const RUN_SUBFOLDERS = new Set(['data', PROOFS_DIR, '.longhaul'])

/** sha256 of each file the job depends on besides its imports, by path relative to the job file's folder. */
export async function hashJobFiles(
  jobPath: string,
  declared: readonly string[] | undefined,
): Promise<Record<string, string>> {
  const folder = dirname(resolve(jobPath))
  const patterns = declared ?? DEFAULT_JOB_FILES
  for (const pattern of declared ?? []) {
    if (!isDynamicPattern(pattern) && !existsSync(resolve(folder, pattern))) {
      throw new UsageError(
        `job file ${jobPath} declares files: ['${pattern}'], and ${resolve(folder, pattern)} does not exist. Declare the files it depends on relative to the job file's folder.`,
        'LONGHAUL_JOB_INVALID',
      )
    }
  }
  if (patterns.length === 0) return {}
  const found = await glob([...patterns], {
    cwd: folder,
    absolute: true,
    onlyFiles: true,
    dot: false,
    ignore: ['**/node_modules/**', '**/.git/**', ...(declared ? [] : DEFAULT_EXCLUDED)],
  })
  const hashes: Record<string, string> = {}
  const job = resolve(jobPath)
  for (const file of found.sort()) {
    if (file === job || inRunFolder(file, folder)) continue
    // Streamed: a declared file may be large (a model's weights, say).
    const hash = createHash('sha256')
    await pipeline(createReadStream(file), hash)
    hashes[relative(folder, file)] = hash.digest('hex')
  }
  return hashes
}

/** True when a longhaul run folder holds `file`: a folder above it with a journal or proofs, up to the job's folder (which may itself be --out). */
function inRunFolder(file: string, jobFolder: string): boolean {
  const below = relative(jobFolder, file)
  // Up to the job's folder, or up to the common ancestor for a file declared outside it.
  const stop = below.startsWith('..') ? commonAncestor(jobFolder, file) : jobFolder
  for (let dir = dirname(file); ; dir = dirname(dir)) {
    if (isRunFolder(dir)) {
      if (dir !== stop && dir !== jobFolder) return true
      // The job's own folder is --out: only the run's own files and folders there are the run's.
      const first = relative(dir, file).split(sep)[0]!
      if (RUN_TOP_FILES.has(first) || RUN_SUBFOLDERS.has(first)) return true
    }
    if (dir === stop || dirname(dir) === dir) return false
  }
}

function isRunFolder(dir: string): boolean {
  const paths = runPaths(dir)
  if (existsSync(paths.internal)) return true
  if (!existsSync(paths.proofs)) return false
  try {
    return readdirSync(paths.proofs).some((name) => name.endsWith('.intoto.jsonl') || name === 'PREFLIGHT.md')
  } catch {
    return false
  }
}

function commonAncestor(a: string, b: string): string {
  let dir = a
  while (relative(dir, b).startsWith('..') && dirname(dir) !== dir) dir = dirname(dir)
  return dir
}
