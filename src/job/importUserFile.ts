import { createRequire } from 'node:module'
import { pathToFileURL } from 'node:url'

/** Files tsx compiles: TypeScript in either module format. */
const TYPESCRIPT = /\.[cm]?tsx?$/
/** TypeScript that is an ES module whatever the project says. */
const ES_MODULE = /\.mtsx?$/
/**
 * longhaul running from its own TypeScript sources (its tests) is already under a loader that compiles TypeScript;
 * the installed package is plain JavaScript and has none.
 */
const FROM_SOURCE = import.meta.url.endsWith('.ts')
/** What require() throws for a file only the ES module loader can run: nothing of it has been evaluated yet. */
const NEEDS_ESM = new Set(['ERR_REQUIRE_ASYNC_MODULE', 'ERR_REQUIRE_ESM', 'ERR_REQUIRE_CYCLE_MODULE'])

let cjsHook = false
let esmHooks: Promise<void> | undefined

/**
 * Imports a job or config file the user wrote; resolves to its module namespace (`default`: its default export).
 *
 * A TypeScript file is compiled on the fly by tsx, registered in this thread the first time one is loaded;
 * longhaul itself never runs through it, and a JavaScript file never loads it. The cheap way first: tsx's CommonJS
 * hook compiles the file as it is required, in this thread (ES module syntax included). Its ES module hooks run in a
 * thread of their own that costs about half a second of CPU to start, so they are registered only for a file that
 * require() cannot load: a `.mts` file, a top-level await, a Node that cannot require() longhaul.
 */
export async function importUserFile(path: string): Promise<Record<string, unknown>> {
  if (!TYPESCRIPT.test(path) || FROM_SOURCE) return unwrap(await import(pathToFileURL(path).href))
  if (!ES_MODULE.test(path)) {
    if (!cjsHook) {
      const { register } = await import('tsx/cjs/api')
      register()
      cjsHook = true
    }
    try {
      return unwrap({ default: createRequire(import.meta.url)(path) })
    } catch (error) {
      if (!NEEDS_ESM.has((error as { code?: string }).code ?? '')) throw error
    }
  }
  await (esmHooks ??= import('tsx/esm/api').then(({ register }) => void register()))
  return unwrap(await import(pathToFileURL(path).href))
}

/**
 * A CommonJS module compiled from ES syntax (what tsx makes of a `.ts` file, or any file imported from a CommonJS
 * project): its `exports` object arrives as the default, its own `export default` inside it.
 */
function unwrap(namespace: Record<string, unknown>): Record<string, unknown> {
  const exports = namespace.default as Record<string, unknown> | undefined
  return typeof exports === 'object' && exports !== null && exports.__esModule === true ? exports : namespace
}
