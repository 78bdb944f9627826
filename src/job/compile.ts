import { createHash } from 'node:crypto'
import { existsSync, mkdirSync, readFileSync, statSync } from 'node:fs'
import { dirname, extname, join, parse, resolve } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import type { BuildOptions, Plugin } from 'esbuild'
import { writeFileAtomic } from '../files/atomicFile.ts'
import { cacheDirFor, nearestNodeModules } from './cacheDir.ts'
import { hashInputs, installedPackagesExternal, jobDoesNotCompile } from './fingerprint.ts'
import { importUserFile } from './importUserFile.ts'

/** longhaul's own sources (src/, or dist/ in the installed package): never the job's, whatever a bundle reads of them. */
export const OWN_SOURCES = fileURLToPath(new URL('..', import.meta.url))
/** `.js` in the compiled package, `.ts` when longhaul runs from its own sources. */
export const OWN_EXTENSION = extname(fileURLToPath(import.meta.url))

/** esbuild's code, whose size and time stand for its version (importing it to ask costs a new process 0.2 s of CPU). */
const ESBUILD = fileURLToPath(import.meta.resolve('esbuild'))

/** What an esbuild pass over a user's file made, and what it was made from. */
export interface Compiled {
  /** The JavaScript. */
  readonly code: Buffer
  /** Where it is written, named by its content: in the job project's node_modules/.cache/longhaul; none without one. */
  readonly file: string | undefined
  /** Every file of the user's own it read (by path relative to the file compiled), sha256: hashSources's map. */
  readonly sources: Readonly<Record<string, string>>
  /** longhaul's own files it read, by absolute path: size and modification time (they change only with longhaul). */
  readonly own: Readonly<Record<string, string>>
  /** Whether importing it means what importing the file means (compileModule): an ES module with no CommonJS inside. */
  readonly esm: boolean
}

/** What a pass returns before it is written: the code, the inputs esbuild read (paths as its metafile gives them). */
export interface Pass {
  readonly code: Buffer
  readonly inputs: readonly string[]
  readonly esm: boolean
}

/**
 * The passes already made, by kind and file. In memory for this process; on disk (a manifest beside the output in the
 * cache folder) for the next one: a process that starts a run, a preflight's every run, a resume after a crash. An
 * esbuild pass costs a new process about half a second of CPU; checking a manifest costs reading the user's files
 * once, which the run's fingerprint does anyway.
 */
const made = new Map<string, Promise<Compiled>>()

/**
 * The pass `kind` over `file`, reused while every file it read has the content it had (the user's, by sha256;
 * longhaul's, by size and time) and nothing it depends on changed (esbuild's version, longhaul's place, the project's
 * module format and installed packages): in this process first, else from the manifest a previous process left, else
 * made now and left for the next.
 */
export function compiled(kind: string, path: string, pass: (file: string) => Promise<Pass>): Promise<Compiled> {
  const file = resolve(path)
  const key = `${kind} ${file}`
  const last = made.get(key)
  const next = (async () => {
    const before = await last?.catch(() => undefined)
    if (before && unchanged(file, before)) return before
    const kept = fromManifest(kind, file)
    if (kept) return kept
    return toManifest(kind, file, await pass(file))
  })()
  made.set(key, next)
  next.catch(() => {
    if (made.get(key) === next) made.delete(key)
  })
  return next
}

/** Everything outside the files read that decides what a pass makes: when one changes, nothing kept is reused. */
function context(kind: string, file: string): string {
  const modules = nearestNodeModules(dirname(file))
  const installed = modules ? statSync(modules).mtimeMs : 0
  return JSON.stringify([kind, stamp(ESBUILD), OWN_SOURCES, isEsModule(file), installed])
}

function manifestPath(kind: string, file: string): string | undefined {
  const dir = cacheDirFor(file)
  return dir && join(dir, `${kind}-of-${createHash('sha256').update(file).digest('hex').slice(0, 16)}.json`)
}

interface Manifest {
  readonly context: string
  readonly file: string
  readonly sources: Record<string, string>
  readonly own: Record<string, string>
  readonly esm: boolean
}

function fromManifest(kind: string, file: string): Compiled | undefined {
  const path = manifestPath(kind, file)
  if (!path || !existsSync(path)) return undefined
  try {
    const kept = JSON.parse(readFileSync(path, 'utf8')) as Manifest
    if (kept.context !== context(kind, file)) return undefined
    const out = join(dirname(path), kept.file)
    const found: Compiled = { code: readFileSync(out), file: out, sources: kept.sources, own: kept.own, esm: kept.esm }
    return unchanged(file, found) && outputName(kind, found.code) === kept.file ? found : undefined
  } catch {
    // Unreadable, half-written by an older version, or its output gone: made again.
    return undefined
  }
}

function toManifest(kind: string, file: string, pass: Pass): Compiled {
  const absolute = pass.inputs.map((input) => resolve(dirname(file), input))
  const own = Object.fromEntries(absolute.filter((input) => input.startsWith(OWN_SOURCES)).map((p) => [p, stamp(p)]))
  const users = pass.inputs.filter((_, at) => !absolute[at]!.startsWith(OWN_SOURCES))
  const result = { code: pass.code, sources: hashInputs(file, users), own, esm: pass.esm }
  const dir = cacheDirFor(file)
  if (!dir) return { ...result, file: undefined }
  const name = outputName(kind, pass.code)
  try {
    mkdirSync(dir, { recursive: true })
    if (!existsSync(join(dir, name))) writeFileAtomic(dir, name, [pass.code])
  } catch {
    // A cache folder that cannot be written (a read-only install): the file is loaded as it is instead.
    return { ...result, file: undefined }
  }
  try {
    // The context is read once the cache folder exists: making it changes node_modules' time.
    const manifest: Manifest = { context: context(kind, file), file: name, sources: result.sources, own, esm: pass.esm }
    writeFileAtomic(dir, manifestPath(kind, file)!.slice(dir.length + 1), [Buffer.from(JSON.stringify(manifest))])
  } catch {
    // Not kept for the next process, which compiles it again.
  }
  return { ...result, file: join(dir, name) }
}

/** An output's name: its kind and its content's. */
function outputName(kind: string, code: Buffer): string {
  return `${kind}-${createHash('sha256').update(code).digest('hex').slice(0, 16)}.mjs`
}

function stamp(path: string): string {
  const { size, mtimeMs } = statSync(path)
  return `${size} ${mtimeMs}`
}

function unchanged(file: string, built: Compiled): boolean {
  try {
    const now = hashInputs(file, Object.keys(built.sources))
    return (
      Object.keys(built.sources).every((source) => now[source] === built.sources[source]) &&
      Object.entries(built.own).every(([path, was]) => stamp(path) === was)
    )
  } catch {
    return false
  }
}

/**
 * What both esbuild passes over a job share: one ES module for Node 20 with its files' mappings inline, named `name`
 * in the folder it is written to (the cache), so the source map's relative paths hold.
 */
export function bundled(file: string, name: string) {
  return {
    bundle: true,
    write: false,
    metafile: true,
    outfile: join(cacheDirFor(file) ?? dirname(file), name),
    absWorkingDir: dirname(file),
    format: 'esm',
    platform: 'node',
    target: 'node20',
    sourcemap: 'inline',
    // Stack traces need the mappings, not the sources' text: without it the bundle is less than half the size, and
    // each thread parses it, and its source map, about a tenth of a second sooner.
    sourcesContent: false,
    logLevel: 'silent',
  } as const satisfies BuildOptions
}

/**
 * A user's file (a job, a config) and its own files as one ES module, whose imports of installed packages and of
 * `longhaul` stay imports (resolved from the project's node_modules, as the file's own).
 */
export function compileModule(path: string): Promise<Compiled> {
  return compiled('module', path, async (file) => {
    const { build } = await import('esbuild')
    const result = await build({
      entryPoints: [file],
      ...bundled(file, 'module.mjs'),
      plugins: [installedPackagesExternal, keepImportMeta],
    }).catch((error: Error) => {
      throw jobDoesNotCompile(path, error)
    })
    const inputs = result.metafile.inputs
    const code = Buffer.from(result.outputFiles[0]!.contents)
    const esm =
      isEsModule(file) &&
      Object.values(inputs).every((input) => input.format !== 'cjs') &&
      // esbuild's stand-in for a require() it could not resolve at build time, which throws in an ES module.
      !code.includes('Dynamic require of')
    return { code, inputs: Object.keys(inputs), esm }
  })
}

/**
 * Imports a TypeScript file the user wrote (a job, a config) that is an ES module as the JavaScript esbuild compiles
 * it to (compileModule), written to the cache folder: tsx is never registered for it (its loader thread costs
 * hundreds of milliseconds of CPU, and every later import in the thread goes through it). Stack traces are mapped
 * back to the user's own files, as tsx maps them. Any other file (JavaScript, CommonJS, no node_modules folder above
 * it to write into, or one esbuild cannot compile: tsx then reports the error as it always has) is imported as it is
 * (importUserFile), as is every file while longhaul runs from its own TypeScript sources (its tests).
 */
export async function importCompiled(path: string): Promise<Record<string, unknown>> {
  const file = resolve(path)
  if (OWN_EXTENSION === '.ts' || !/\.[cm]?tsx?$/.test(file) || !cacheDirFor(file) || !isEsModule(file))
    return importUserFile(file)
  const built = await compileModule(file).catch(() => undefined)
  if (!built?.esm || !built.file) return importUserFile(file)
  process.setSourceMapsEnabled(true)
  return (await import(pathToFileURL(built.file).href)) as Record<string, unknown>
}

/** Whether Node loads the file at `path` as an ES module: `.mts`/`.mjs`, or `.ts`/`.js` under `"type": "module"`. */
export function isEsModule(path: string): boolean {
  if (/\.m[jt]s$/.test(path)) return true
  if (!/\.[jt]sx?$/.test(path)) return false
  for (let dir = dirname(path); ; dir = dirname(dir)) {
    const manifest = join(dir, 'package.json')
    if (existsSync(manifest))
      return (JSON.parse(readFileSync(manifest, 'utf8')) as { type?: unknown }).type === 'module'
    if (dir === parse(dir).root) return false
  }
}

/**
 * The user's own files keep their `import.meta.url` (and dirname, filename),
 * so a job that reads a file next to itself finds it from the bundle too; so
 * do a CommonJS file's `__dirname` and `__filename`, declared on its first line
 * (its lines keep their numbers in stack traces).
 */
export const keepImportMeta: Plugin = {
  name: 'longhaul-import-meta',
  setup(b) {
    b.onLoad({ filter: /\.([cm]?[jt]s|[jt]sx)$/ }, (args) => {
      if (args.path.startsWith(OWN_SOURCES) || args.path.includes('/node_modules/')) return undefined
      const source = readFileSync(args.path, 'utf8')
      const commonJs = /\b__(dirname|filename)\b/.test(source) && !isEsModule(args.path)
      if (!source.includes('import.meta') && !commonJs) return undefined
      const contents = source
        .replaceAll('import.meta.url', JSON.stringify(pathToFileURL(args.path).href))
        .replaceAll('import.meta.dirname', JSON.stringify(dirname(args.path)))
        .replaceAll('import.meta.filename', JSON.stringify(args.path))
        // In place of a `#!` line, which means nothing inside the bundle.
        .replace(
          /^(#!.*)?/,
          commonJs
            ? `var __dirname = ${JSON.stringify(dirname(args.path))}, __filename = ${JSON.stringify(args.path)}; `
            : '$&',
        )
      return { contents, loader: extname(args.path).slice(1).replace(/^[cm]/, '') as 'ts' | 'js' | 'tsx' | 'jsx' }
    })
  },
}
