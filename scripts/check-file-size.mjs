// House rule: a source file is readable in one sitting. Fails when a file under src/ passes LIMIT lines,
// except the few listed in OVER, which may not grow past the size recorded there (each is due to be split).
import { readdirSync, readFileSync } from 'node:fs'
import { join, relative } from 'node:path'

const LIMIT = 400
const OVER = {
  'src/journal/postgres/postgresStore.ts': 544,
}

const root = new URL('..', import.meta.url).pathname
const files = readdirSync(join(root, 'src'), { recursive: true, withFileTypes: true })
  .filter((e) => e.isFile() && /\.(ts|js|mjs)$/.test(e.name))
  .map((e) => relative(root, join(e.parentPath, e.name)))

const problems = []
for (const file of files) {
  const lines = readFileSync(join(root, file), 'utf8').split('\n').length - 1
  const allowed = OVER[file] ?? LIMIT
  if (lines > allowed) problems.push(`${file}: ${lines} lines (at most ${allowed}); split it by what its parts do`)
}
for (const file of Object.keys(OVER)) {
  if (!files.includes(file)) problems.push(`${file} is listed in OVER but does not exist: remove it from the list`)
  else if (readFileSync(join(root, file), 'utf8').split('\n').length - 1 <= LIMIT)
    problems.push(`${file} is now within ${LIMIT} lines: remove it from OVER in scripts/check-file-size.mjs`)
}
if (problems.length > 0) {
  console.error(`Files too long to read in one sitting:\n  ${problems.join('\n  ')}`)
  process.exit(1)
}
