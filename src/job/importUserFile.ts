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

/**
 * longhaul's public entry, which every job and config file imports: the one the installed package's own `import
 * 'longhaul'` resolves to. Not imported statically: the CLI does not need it otherwise.
 */
const PUBLIC_ENTRY = new URL('../index.js', import.meta.url).href

async function registerTsx(): Promise<void> {
  // Once tsx is registered, every module imported in this thread is resolved and loaded through its hooks, which
  // run in a thread of their own: a round trip and tsx's own lookups for each file, hundreds of milliseconds for
  // longhaul's public entry and its dependencies. Loaded first, they are already there when the job imports them.
  const [esm, cjs] = await Promise.all([import('tsx/esm/api'), import('tsx/cjs/api'), import(PUBLIC_ENTRY)])
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
