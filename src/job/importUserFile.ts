import { pathToFileURL } from 'node:url'

/** Files tsx compiles: TypeScript in either module format. */
const TYPESCRIPT = /\.[cm]?tsx?$/
/**
 * longhaul running from its own TypeScript sources (its tests) is already under a loader that compiles TypeScript;
 * the installed package is plain JavaScript and has none.
 */
const FROM_SOURCE = import.meta.url.endsWith('.ts')
let tsx: Promise<void> | undefined

/**
 * Imports a job or config file the user wrote; resolves to its module namespace (`default`: its default export).
 * A TypeScript file is compiled on the fly by tsx, registered in this thread the first time one is imported, for
 * both module formats (a `.ts` file in a CommonJS project is CommonJS); longhaul itself never runs through it, and a
 * JavaScript job never loads it.
 */
export async function importUserFile(path: string): Promise<Record<string, unknown>> {
  if (TYPESCRIPT.test(path) && !FROM_SOURCE) await (tsx ??= registerTsx())
  return unwrap((await import(pathToFileURL(path).href)) as Record<string, unknown>)
}

async function registerTsx(): Promise<void> {
  const [esm, cjs] = await Promise.all([import('tsx/esm/api'), import('tsx/cjs/api')])
  esm.register()
  cjs.register()
}

/**
 * A CommonJS module compiled from ES syntax (a `.ts` file in a CommonJS project): its `exports` object arrives as
 * the default, its own `export default` inside it.
 */
function unwrap(namespace: Record<string, unknown>): Record<string, unknown> {
  const exports = namespace.default as Record<string, unknown> | undefined
  return typeof exports === 'object' && exports !== null && exports.__esModule === true ? exports : namespace
}
