// `npm run build`: compiles src/ to dist/ (JavaScript, .d.ts and source maps, tsconfig.build.json) and copies the
// files the code reads at run time beside it (SQL migrations, the dashboard's page). `prepare` runs it, so a clone's
// `npm ci` and `npm pack` build; the tests run it through vitest's globalSetup before any file spawns the CLI.
//
//   node scripts/build.mjs             build (incremental: tsc reuses dist/.tsbuildinfo)
//   node scripts/build.mjs --if-stale  build only when a file under src/ (or a tsconfig) changed since the last build
//
// dist/.stamp records every source file's path, size and mtime at the last build that succeeded; a file added or
// removed since then cleans dist/ first, so nothing compiled from a deleted source lingers.
import { execFileSync } from 'node:child_process'
import { cpSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'

const ROOT = fileURLToPath(new URL('..', import.meta.url))
const SRC = join(ROOT, 'src')
const DIST = join(ROOT, 'dist')
const STAMP = join(DIST, '.stamp')
/** Files the compiled code opens by a path next to itself: copied as they are. */
const ASSET = /\.(sql|html|css|js)$/

/** Every source file with its size and mtime, and the build configuration: what the build depends on. */
function sources() {
  const files = readdirSync(SRC, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => join(entry.parentPath, entry.name))
  files.push(join(ROOT, 'tsconfig.json'), join(ROOT, 'tsconfig.build.json'), fileURLToPath(import.meta.url))
  return files.sort().map((file) => {
    const { size, mtimeMs } = statSync(file)
    return `${relative(ROOT, file)}\t${size}\t${mtimeMs}`
  })
}

function readStamp() {
  try {
    return readFileSync(STAMP, 'utf8').split('\n').filter(Boolean)
  } catch {
    return undefined
  }
}

const names = (lines) => lines.map((line) => line.split('\t')[0]).join('\n')

export function build({ ifStale = false } = {}) {
  const now = sources()
  const before = readStamp()
  if (ifStale && before && before.join('\n') === now.join('\n')) return false
  // A source added or removed: start from an empty dist/, so no output of a deleted file stays behind.
  if (!before || names(before) !== names(now)) rmSync(DIST, { recursive: true, force: true })
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc')
  try {
    execFileSync(process.execPath, [tsc, '-p', join(ROOT, 'tsconfig.build.json')], { cwd: ROOT, stdio: 'inherit' })
  } catch {
    rmSync(STAMP, { force: true })
    throw new Error('the build failed: tsc -p tsconfig.build.json reported the errors above')
  }
  for (const entry of readdirSync(SRC, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile() || !ASSET.test(entry.name)) continue
    const from = join(entry.parentPath, entry.name)
    cpSync(from, join(DIST, relative(SRC, from)), { preserveTimestamps: true })
  }
  writeFileSync(STAMP, `${now.join('\n')}\n`)
  return true
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const ifStale = process.argv.includes('--if-stale')
  const began = performance.now()
  try {
    const built = build({ ifStale })
    if (built) console.error(`built dist/ in ${((performance.now() - began) / 1000).toFixed(1)} s`)
  } catch (error) {
    console.error(error.message)
    process.exitCode = 1
  }
}

/**
 * vitest's globalSetup (vitest.config.ts): the tests start the CLI through bin/longhaul.mjs, which runs dist/;
 * it is rebuilt first when anything under src/ changed, so no test, not even one file run alone, runs stale code.
 */
export function setup() {
  const began = performance.now()
  if (build({ ifStale: true })) console.error(`built dist/ in ${((performance.now() - began) / 1000).toFixed(1)} s`)
}
