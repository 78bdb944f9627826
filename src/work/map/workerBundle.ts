import { createHash } from 'node:crypto'
import { existsSync, mkdirSync, readFileSync } from 'node:fs'
import { dirname, extname, join, parse, resolve } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { type BuildOptions, build, type Plugin } from 'esbuild'
import { writeFileAtomic } from '../../files/atomicFile.ts'
import { cacheDirFor } from '../../job/cacheDir.ts'
import { hashInputs, installedPackagesExternal, jobDoesNotCompile } from '../../job/fingerprint.ts'
import { importUserFile } from '../../job/importUserFile.ts'

const SRC = fileURLToPath(new URL('../..', import.meta.url))
/** `.js` in the compiled package, `.ts` when longhaul runs from its own sources. */
const OWN = extname(fileURLToPath(import.meta.url))
/** What the job's `import 'longhaul'` resolves to in the bundle: the public API, declaring the job without zod. */
const API = fileURLToPath(new URL(`./workerApi${OWN}`, import.meta.url))
const WORKER = fileURLToPath(new URL(`./worker${OWN}`, import.meta.url))
/** The bundle's entry, which exists only in memory. */
const STDIN = 'longhaul-worker.js'

/** One esbuild pass over the job: the worker bundle's code, and the job's sources that it read, hashed. */
export interface JobBuild {
  /** The bundle: the job, its local imports and workspace packages, and longhaul's worker code. */
  readonly code: Buffer
  /** What hashSources (fingerprint.ts) gives for the job: every file of its own it imports, by path, sha256. */
  readonly sources: Readonly<Record<string, string>>
}

/**
 * The job compiled for the coordinating thread: the job file and its own files as one ES module, whose imports of
 * installed packages and of `longhaul` stay imports (resolved from the job project's node_modules, as the job's own).
 */
interface JobModule {
  readonly code: Buffer
  readonly sources: Readonly<Record<string, string>>
  /**
   * Whether importing it means what importing the job file means: the job is an ES module in Node's eyes (`.mts`, or
   * `"type": "module"` in its package.json) and none of its files needs CommonJS (`require`, `module.exports`),
   * which an ES module bundle cannot give.
   */
  readonly esm: boolean
}

/** The last builds of each job file in this process, reused while none of its sources changed. */
const builds = new Map<string, Promise<JobBuild>>()
const modules = new Map<string, Promise<JobModule>>()

/**
 * Builds the job once for both its fingerprint and its worker threads: the files esbuild reads to bundle it are the
 * job's sources (the job file, its local imports, workspace packages; not installed packages, not longhaul). A run
 * asks twice (the run's identity, then the bundle), at the same moment; a later call in the same process (a test,
 * preflight then the run) reuses the build when every source still has the content it had, and builds again when one
 * changed.
 */
export function buildJob(jobPath: string): Promise<JobBuild> {
  return cached(builds, jobPath, bundleJob)
}

function cached<T extends { readonly sources: Readonly<Record<string, string>> }>(
  cache: Map<string, Promise<T>>,
  jobPath: string,
  make: (jobPath: string, job: string) => Promise<T>,
): Promise<T> {
  const job = resolve(jobPath)
  const last = cache.get(job)
  const next = (async () => {
    const built = await last?.catch(() => undefined)
    if (built && unchanged(job, built.sources)) return built
    return make(jobPath, job)
  })()
  cache.set(job, next)
  next.catch(() => {
    if (cache.get(job) === next) cache.delete(job)
  })
  return next
}

function unchanged(job: string, sources: Readonly<Record<string, string>>): boolean {
  try {
    const now = hashInputs(job, Object.keys(sources))
    return Object.keys(sources).every((file) => now[file] === sources[file])
  } catch {
    return false
  }
}
/**
 * What both esbuild passes over a job share: one ES module for Node 20 with its files' mappings inline, named `name`
 * in the folder it is written to (the cache), so the source map's relative paths hold.
 */
function bundled(job: string, name: string) {
  return {
    bundle: true,
    write: false,
    metafile: true,
    outfile: join(cacheDirFor(job) ?? dirname(job), name),
    absWorkingDir: dirname(job),
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

async function bundleJob(jobPath: string, job: string): Promise<JobBuild> {
  const result = await build({
    stdin: {
      contents: `import job from ${JSON.stringify(job)}\nimport { createRangeMaker } from ${JSON.stringify(WORKER)}\nexport default createRangeMaker(job)\n`,
      resolveDir: dirname(job),
      sourcefile: STDIN,
      loader: 'js',
    },
    ...bundled(job, 'worker.mjs'),
    // A CommonJS job's require() of what stays outside the bundle (Node's modules, installed packages) becomes esbuild's
    // stand-in, which calls the bundle's `require` if it has one: the job file's own, as Node gives it. A banner, so the
    // source map counts its lines.
    banner: {
      js: isEsModule(job)
        ? ''
        : `import { createRequire as __longhaulCreateRequire } from 'node:module';\nconst require = __longhaulCreateRequire(${JSON.stringify(job)});`,
    },
    plugins: [selfAndOwnDependencies, installedPackagesExternal, keepImportMeta],
  }).catch((error: Error) => {
    throw jobDoesNotCompile(jobPath, error)
  })
  const inputs = Object.keys(result.metafile.inputs).filter(
    (input) => input !== STDIN && !resolve(dirname(job), input).startsWith(SRC),
  )
  return { code: Buffer.from(result.outputFiles[0]!.contents), sources: hashInputs(job, inputs) }
}

/** The job module for the coordinating thread (JobModule): an esbuild pass of its own over the job's files. */
function buildJobModule(jobPath: string): Promise<JobModule> {
  return cached(modules, jobPath, compileJobModule)
}

async function compileJobModule(jobPath: string, job: string): Promise<JobModule> {
  const result = await build({
    entryPoints: [job],
    ...bundled(job, 'job.mjs'),
    plugins: [installedPackagesExternal, keepImportMeta],
  }).catch((error: Error) => {
    throw jobDoesNotCompile(jobPath, error)
  })
  const inputs = result.metafile.inputs
  const code = Buffer.from(result.outputFiles[0]!.contents)
  const esm =
    isEsModule(job) &&
    Object.values(inputs).every((input) => input.format !== 'cjs') &&
    // esbuild's stand-in for a require() it could not resolve at build time, which throws in an ES module.
    !code.includes('Dynamic require of')
  return { code, sources: hashInputs(job, Object.keys(inputs)), esm }
}

/** Whether Node loads the file at `path` as an ES module: `.mts`/`.mjs`, or `.ts`/`.js` under `"type": "module"`. */
function isEsModule(path: string): boolean {
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
 * Imports a job file in the coordinating thread. A TypeScript job that is an ES module is imported as the JavaScript
 * esbuild compiles it to (JobModule), written beside the worker bundle: tsx is never registered for it (its loader
 * thread costs hundreds of milliseconds of CPU, and every later import in the thread goes through it), and the worker
 * bundle's build starts at the same moment. Stack traces are mapped back to the job's own files, as tsx maps them. Any other
 * job (JavaScript, CommonJS, no node_modules folder above it to write into, or one esbuild cannot compile: tsx then
 * reports the error as it always has) is imported as it is (importUserFile), as is every job while longhaul runs from
 * its own TypeScript sources (its tests).
 */
export async function importJob(jobPath: string): Promise<Record<string, unknown>> {
  const job = resolve(jobPath)
  const dir = cacheDirFor(job)
  if (OWN === '.ts' || !/\.[cm]?tsx?$/.test(job) || dir === undefined || !isEsModule(job)) return importUserFile(job)
  // The worker threads' bundle is built beside it, from the same sources, while the job loads and the run opens.
  void buildJob(job).catch(() => undefined)
  const built = await buildJobModule(job).catch(() => undefined)
  if (!built?.esm) return importUserFile(job)
  const name = `job-${createHash('sha256').update(built.code).digest('hex').slice(0, 16)}.mjs`
  if (!existsSync(join(dir, name))) {
    mkdirSync(dir, { recursive: true })
    writeFileAtomic(dir, name, [built.code])
  }
  process.setSourceMapsEnabled(true)
  return (await import(pathToFileURL(join(dir, name)).href)) as Record<string, unknown>
}

/**
 * Writes the job's bundle (buildJob) for worker threads to start from: plain JavaScript, so they start without a
 * TypeScript loader (that loader costs each thread hundreds of milliseconds). Installed packages stay outside the
 * bundle and load as usual. The file goes to the job project's node_modules/.cache/longhaul/, named by its content.
 * Returns undefined when the job has no node_modules folder above it; the worker then loads the job through tsx
 * instead.
 */
export async function buildWorkerBundle(jobPath: string): Promise<string | undefined> {
  const dir = cacheDirFor(resolve(jobPath))
  const { code } = await buildJob(jobPath)
  if (!dir) return undefined
  const name = `worker-${createHash('sha256').update(code).digest('hex').slice(0, 16)}.mjs`
  if (!existsSync(join(dir, name))) {
    mkdirSync(dir, { recursive: true })
    writeFileAtomic(dir, name, [code])
  }
  return join(dir, name)
}

/**
 * `longhaul` itself is bundled from this very source; the packages longhaul's
 * own files import are pinned to the copies longhaul resolves, so the bundle
 * works wherever npm placed them.
 */
const selfAndOwnDependencies: Plugin = {
  name: 'longhaul-self',
  setup(b) {
    b.onResolve({ filter: /^longhaul$/ }, () => ({ path: API }))
    b.onResolve({ filter: /^[^./]/ }, (args) => {
      if (args.path.startsWith('node:') || !args.importer.startsWith(SRC)) return undefined
      return { path: ownResolved(args.path), external: true }
    })
  },
}

const resolvedByLonghaul = new Map<string, string>()
/** A package as longhaul's own files import it, resolved once (after tsx is registered each lookup is a round trip to its thread). */
function ownResolved(specifier: string): string {
  let url = resolvedByLonghaul.get(specifier)
  if (url === undefined) resolvedByLonghaul.set(specifier, (url = import.meta.resolve(specifier)))
  return url
}

/**
 * The job's own files keep their `import.meta.url` (and dirname, filename),
 * so a job that reads a file next to itself finds it from the bundle too; so
 * do a CommonJS file's `__dirname` and `__filename`, declared on its first line
 * (its lines keep their numbers in stack traces).
 */
const keepImportMeta: Plugin = {
  name: 'longhaul-import-meta',
  setup(b) {
    b.onLoad({ filter: /\.([cm]?[jt]s|[jt]sx)$/ }, (args) => {
      if (args.path.startsWith(SRC) || args.path.includes('/node_modules/')) return undefined
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
