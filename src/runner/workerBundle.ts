import { createHash } from 'node:crypto'
import { existsSync, mkdirSync, readFileSync } from 'node:fs'
import { dirname, extname, join, parse, resolve } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { build, type Plugin } from 'esbuild'
import { writeFileAtomic } from '../store/atomicFile.ts'

const SRC = fileURLToPath(new URL('..', import.meta.url))
/** `.js` in the compiled package, `.ts` when longhaul runs from its own sources. */
const OWN = extname(fileURLToPath(import.meta.url))
/** What the job's `import 'longhaul'` resolves to in the bundle: the public API, declaring the job without zod. */
const API = fileURLToPath(new URL(`./workerApi${OWN}`, import.meta.url))
const WORKER = fileURLToPath(new URL(`./worker${OWN}`, import.meta.url))

/**
 * Bundles the job, its local imports and longhaul's worker code into one
 * plain JavaScript file, so worker threads start without a TypeScript loader
 * (that loader costs each thread hundreds of milliseconds). Packages stay
 * outside the bundle and load as usual. The file goes to the job project's
 * node_modules/.cache/longhaul/, named by its content. Returns undefined when
 * the job has no node_modules folder above it; the worker then loads the job
 * through tsx instead.
 */
export async function buildWorkerBundle(jobPath: string): Promise<string | undefined> {
  const job = resolve(jobPath)
  const modules = nearestNodeModules(dirname(job))
  if (!modules) return undefined
  const dir = join(modules, '.cache', 'longhaul')
  const result = await build({
    stdin: {
      contents: `import job from ${JSON.stringify(job)}\nimport { createRangeMaker } from ${JSON.stringify(WORKER)}\nexport default createRangeMaker(job)\n`,
      resolveDir: dirname(job),
      sourcefile: 'longhaul-worker.js',
      loader: 'js',
    },
    bundle: true,
    write: false,
    // Named by content below, in this same folder, so the source map's relative paths hold.
    outfile: join(dir, 'worker.mjs'),
    format: 'esm',
    platform: 'node',
    target: 'node20',
    packages: 'external',
    sourcemap: 'inline',
    logLevel: 'silent',
    plugins: [selfAndOwnDependencies, keepImportMeta],
  })
  const code = Buffer.from(result.outputFiles[0]!.contents)
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
      return { path: import.meta.resolve(args.path), external: true }
    })
  },
}

/**
 * The job's own files keep their `import.meta.url` (and dirname, filename),
 * so a job that reads a file next to itself finds it from the bundle too.
 */
const keepImportMeta: Plugin = {
  name: 'longhaul-import-meta',
  setup(b) {
    b.onLoad({ filter: /\.(m?[jt]s|[jt]sx)$/ }, (args) => {
      if (args.path.startsWith(SRC) || args.path.includes('/node_modules/')) return undefined
      const source = readFileSync(args.path, 'utf8')
      if (!source.includes('import.meta')) return undefined
      const contents = source
        .replaceAll('import.meta.url', JSON.stringify(pathToFileURL(args.path).href))
        .replaceAll('import.meta.dirname', JSON.stringify(dirname(args.path)))
        .replaceAll('import.meta.filename', JSON.stringify(args.path))
      return { contents, loader: extname(args.path).slice(1).replace(/^m/, '') as 'ts' | 'js' | 'tsx' | 'jsx' }
    })
  },
}

function nearestNodeModules(from: string): string | undefined {
  for (let dir = from; ; dir = dirname(dir)) {
    const candidate = join(dir, 'node_modules')
    if (existsSync(candidate)) return candidate
    if (dir === parse(dir).root) return undefined
  }
}
