// House rule: dependencies point one way (docs/architecture.md, "Import rules"). Each folder of src/ has a rank, from
// the top (what the user calls) to the bottom (what everything builds on); a file may import its own folder and any
// folder ranked below its own, never one ranked above it or beside it (work/map, work/loop and work/exec are apart).
import { readdirSync, readFileSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'

const RANKS = [
  ['cli'],
  ['testing'],
  ['preflight'],
  ['dashboard'],
  ['inspect'],
  ['work/map', 'work/loop', 'work/exec'],
  ['work/rateLimit'],
  ['run'],
  ['shards'],
  ['journal'],
  ['job', 'telemetry'],
  ['files'],
  ['s3Client.ts'],
  ['errors.ts', 'version.ts'],
]
/** Imports that go up on purpose, with why. */
const ALLOWED = {
  // Inside a worker thread's bundle, `import 'longhaul'` is this file, which gives the job the public entry's helpers.
  'src/work/map/workerApi.ts -> src/index.ts': true,
  // A map job's fingerprint is taken from the one esbuild pass that also makes its worker bundle; until the work seam
  // gives identify.ts each kind's own sources, run/ reaches into the map work for it.
  'src/run/identify.ts -> src/work/map/workerBundle.ts': true,
}

const root = new URL('..', import.meta.url).pathname
const src = join(root, 'src')
const rankOf = new Map(RANKS.flatMap((names, rank) => names.map((name) => [name, rank])))

/** The module a file under src/ belongs to: `work/map`, `run`, `errors.ts`; undefined for src/index.ts (the public entry, above all). */
function moduleOf(file) {
  const path = relative(src, file)
  const [first, second] = path.split('/')
  if (second === undefined) return path === 'index.ts' ? undefined : path
  return first === 'work' ? `work/${second}` : first
}

const files = readdirSync(src, { recursive: true, withFileTypes: true })
  .filter((e) => e.isFile() && /\.(ts|mjs|js)$/.test(e.name) && !e.parentPath.includes('/static'))
  .map((e) => join(e.parentPath, e.name))

const problems = []
const SPECIFIER = /(?:\bfrom\s+|\bimport\s*\(\s*|\bimport\s+)'(\.[^']+)'/g
for (const file of files) {
  const from = moduleOf(file)
  if (from === undefined) continue
  if (!rankOf.has(from)) {
    problems.push(`${relative(root, file)}: its folder has no rank: add it to RANKS in scripts/check-imports.mjs`)
    continue
  }
  for (const [, specifier] of readFileSync(file, 'utf8').matchAll(SPECIFIER)) {
    const target = resolve(dirname(file), specifier)
    const to = moduleOf(target)
    if (to === from) continue
    const edge = `${relative(root, file)} -> ${relative(root, target)}`
    if (ALLOWED[edge]) continue
    const toRank = to === undefined ? -1 : rankOf.get(to)
    if (toRank === undefined || toRank <= rankOf.get(from))
      problems.push(`${edge}: ${from}/ may not import ${to ?? 'the public entry'}${to?.endsWith('.ts') ? '' : '/'}`)
  }
}
if (problems.length > 0) {
  console.error(`Imports against the one-way rule (docs/architecture.md, "Import rules"):\n  ${problems.join('\n  ')}`)
  process.exit(1)
}
