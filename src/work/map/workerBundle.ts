import { dirname } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { Plugin } from 'esbuild'
import {
  bundled,
  type Compiled,
  compiled,
  importCompiled,
  isEsModule,
  keepImportMeta,
  OWN_EXTENSION,
  OWN_SOURCES,
} from '../../job/compile.ts'
import { installedPackagesExternal, jobDoesNotCompile } from '../../job/fingerprint.ts'

/** What the job's `import 'longhaul'` resolves to in the bundle: the public API, declaring the job without zod. */
const API = fileURLToPath(new URL(`./workerApi${OWN_EXTENSION}`, import.meta.url))
const WORKER = fileURLToPath(new URL(`./worker${OWN_EXTENSION}`, import.meta.url))
/** The bundle's entry, which exists only in memory. */
const STDIN = 'longhaul-worker.js'

/**
 * The worker bundle's esbuild pass over the job: the job, its local imports and workspace packages, and longhaul's
 * worker code. Its sources (the files of the job's own it read: not installed packages, not longhaul) are also the
 * job's for its fingerprint, so a run builds once for both: a run asks twice (the run's identity, then the bundle),
 * at the same moment. A later call, in this process or a new one, reuses the build while its sources are unchanged
 * (compiled).
 */
export function buildJob(jobPath: string): Promise<Compiled> {
  return compiled('worker', jobPath, async (job) => {
    const { build } = await import('esbuild')
    const result = await build({
      stdin: {
        contents: `import job from ${JSON.stringify(job)}\nimport { createRangeMaker } from ${JSON.stringify(WORKER)}\nexport default createRangeMaker(job)\n`,
        resolveDir: dirname(job),
        sourcefile: STDIN,
        loader: 'js',
      },
      ...bundled(job, 'worker.mjs'),
      // A CommonJS job's require() of what stays outside the bundle (Node's modules, installed packages) becomes
      // esbuild's stand-in, which calls the bundle's `require` if it has one: the job file's own, as Node gives it. A
      // banner, so the source map counts its lines.
      banner: {
        js: isEsModule(job)
          ? ''
          : `import { createRequire as __longhaulCreateRequire } from 'node:module';\nconst require = __longhaulCreateRequire(${JSON.stringify(job)});`,
      },
      plugins: [selfAndOwnDependencies, installedPackagesExternal, keepImportMeta],
    }).catch((error: Error) => {
      throw jobDoesNotCompile(jobPath, error)
    })
    const inputs = Object.keys(result.metafile.inputs).filter((input) => input !== STDIN)
    return { code: Buffer.from(result.outputFiles[0]!.contents), inputs, esm: isEsModule(job) }
  })
}

/**
 * Imports a job file in the coordinating thread (importCompiled: a TypeScript ES module as the JavaScript esbuild
 * compiles it to). The worker threads' bundle is built beside it, from the same sources, while the job loads and the
 * run opens.
 */
export function importJob(jobPath: string): Promise<Record<string, unknown>> {
  if (/\.[cm]?tsx?$/.test(jobPath) && OWN_EXTENSION !== '.ts') void buildJob(jobPath).catch(() => undefined)
  return importCompiled(jobPath)
}

/**
 * The job's bundle (buildJob) for worker threads to start from: plain JavaScript, so they start without a
 * TypeScript loader (that loader costs each thread hundreds of milliseconds). Installed packages stay outside the
 * bundle and load as usual. The file is in the job project's node_modules/.cache/longhaul/, named by its content.
 * Returns undefined when the job has no node_modules folder above it; the worker then loads the job through tsx
 * instead.
 */
export async function buildWorkerBundle(jobPath: string): Promise<string | undefined> {
  return (await buildJob(jobPath)).file
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
      if (args.path.startsWith('node:') || !args.importer.startsWith(OWN_SOURCES)) return undefined
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
