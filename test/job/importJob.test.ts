// How the coordinating process imports a TypeScript job (work/map/workerBundle.ts, importJob): an ES module job as
// the JavaScript esbuild compiles it to, with no TypeScript loader registered; anything else through tsx, as before.
// Each job lives in a project of its own (a temp folder with its own node_modules, linking longhaul and zod), so
// that what decides (its package.json's "type") is the project's.
import { mkdirSync, readdirSync, readFileSync, statSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs'
import { basename, dirname, join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { ROOT, runCli, tempDir } from '../support/cli.ts'

/** A project folder: package.json as given, node_modules with longhaul and zod, and `files` written into it. */
function project(manifest: object, files: Record<string, string>): string {
  const dir = tempDir('longhaul-import-job-')
  mkdirSync(join(dir, 'node_modules'))
  symlinkSync(ROOT, join(dir, 'node_modules/longhaul'))
  symlinkSync(join(ROOT, 'node_modules/zod'), join(dir, 'node_modules/zod'))
  writeFileSync(join(dir, 'package.json'), JSON.stringify(manifest))
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, name)), { recursive: true })
    writeFileSync(join(dir, name), text)
  }
  return dir
}

/** Job code that says, from the coordinating thread only, whether a TypeScript loader (tsx's) is registered there. */
const SAYS_LOADER = (require: string) =>
  `if (isMainThread) console.error('typescript loader: ' + (${require}.extensions['.ts'] ? 'tsx' : 'none')`

describe('typescript-job-loads-compiled', () => {
  it('a TypeScript job that is an ES module runs without a TypeScript loader in the coordinating process: its local imports, a file read beside it, its items all as written', async () => {
    const dir = project(
      { type: 'module' },
      {
        'job.ts': [
          "import { readFileSync } from 'node:fs'",
          "import { createRequire } from 'node:module'",
          "import { isMainThread } from 'node:worker_threads'",
          "import { defineJob, jsonl } from 'longhaul'",
          "import { z } from 'zod'",
          "import { twice } from './twice.ts'",
          `${SAYS_LOADER('createRequire(import.meta.url)')})`,
          "const offset = Number(readFileSync(new URL('./offset.txt', import.meta.url), 'utf8'))",
          'export default defineJob({',
          "  name: 'compiled', total: 20, output: jsonl(), params: z.object({ k: z.number().default(3) }),",
          '  item: (i, ctx) => ({ i, y: twice(i) + offset + ctx.params.k }),',
          '})',
          '',
        ].join('\n'),
        'twice.ts': 'export const twice = (n: number): number => n * 2\n',
        'offset.txt': '100\n',
      },
    )
    const result = await runCli(['run', join(dir, 'job.ts'), '--out', join(dir, 'out'), '--json'])
    expect(result.code, result.stderr).toBe(0)
    expect(result.stderr).toContain('typescript loader: none')
    expect(JSON.parse(result.stdout)).toMatchObject({ state: 'complete', committed: 20 })
    const items = readdirSync(join(dir, 'out/data'))
      .filter((name) => name.endsWith('.jsonl'))
      .flatMap((shard) =>
        readFileSync(join(dir, 'out/data', shard), 'utf8')
          .trim()
          .split('\n'),
      )
      .map((line) => JSON.parse(line) as { i: number; y: number })
      .sort((a, b) => a.i - b.i)
    expect(items).toEqual(Array.from({ length: 20 }, (_, i) => ({ i, y: 2 * i + 100 + 3 })))
  })

  it('a TypeScript job of a CommonJS project is loaded through tsx as before (require and __dirname are CommonJS)', async () => {
    const dir = project(
      {},
      {
        'job.ts': [
          "import { basename } from 'node:path'",
          "import { isMainThread } from 'node:worker_threads'",
          "import { defineJob, jsonl } from 'longhaul'",
          `${SAYS_LOADER('require')} + ', in ' + basename(__dirname))`,
          "export default defineJob({ name: 'commonjs', total: 5, output: jsonl(), item: (i) => ({ i }) })",
          '',
        ].join('\n'),
      },
    )
    const result = await runCli(['run', join(dir, 'job.ts'), '--out', join(dir, 'out'), '--json'])
    expect(result.code, result.stderr).toBe(0)
    expect(result.stderr).toContain(`typescript loader: tsx, in ${basename(dir)}`)
  })
})

describe('commonjs-job-runs-in-threads', () => {
  it("a TypeScript job of a CommonJS project that uses require(), __dirname and __filename runs in its worker threads as in Node: builtins and installed packages required, each file's own folder and name", async () => {
    const dir = project(
      {},
      {
        'job.ts': [
          "import { isMainThread } from 'node:worker_threads'",
          "import { defineJob, jsonl } from 'longhaul'",
          "import { scale } from './lib/scale.ts'",
          "const { basename, join } = require('node:path')",
          "const { z } = require('zod')",
          "const offset = Number(require('node:fs').readFileSync(join(__dirname, 'offset.txt'), 'utf8'))",
          "export default defineJob({ name: 'commonjs-threads', total: 20, output: jsonl(), item: (i) => ({",
          '  i, y: z.number().parse(scale(i)) + offset, file: basename(__filename), thread: !isMainThread,',
          '}) })',
          '',
        ].join('\n'),
        'lib/scale.ts': [
          "const { readFileSync } = require('node:fs')",
          "const factor = Number(readFileSync(require('node:path').join(__dirname, 'factor.txt'), 'utf8'))",
          'export const scale = (n: number): number => n * factor',
          '',
        ].join('\n'),
        'lib/factor.txt': '3\n',
        'offset.txt': '100\n',
      },
    )
    const result = await runCli(['run', join(dir, 'job.ts'), '--out', join(dir, 'out'), '--json'])
    expect(result.code, result.stderr).toBe(0)
    expect(JSON.parse(result.stdout)).toMatchObject({ state: 'complete', committed: 20 })
    const items = readdirSync(join(dir, 'out/data'))
      .filter((name) => name.endsWith('.jsonl'))
      .flatMap((shard) =>
        readFileSync(join(dir, 'out/data', shard), 'utf8')
          .trim()
          .split('\n'),
      )
      .map((line) => JSON.parse(line) as { i: number })
      .sort((a, b) => a.i - b.i)
    expect(items).toEqual(Array.from({ length: 20 }, (_, i) => ({ i, y: 3 * i + 100, file: 'job.ts', thread: true })))
  })
})

describe('job-load-error-is-the-jobs', () => {
  const job = (body: string) =>
    join(project({ type: 'module' }, { 'job.ts': `import { defineJob, jsonl } from 'longhaul'\n${body}` }), 'job.ts')

  it('a job that throws as it loads is refused with its own message (exit 2)', async () => {
    const result = await runCli([
      'run',
      job(
        "if (Date.now() > 0) throw new Error('the model file is missing')\nexport default defineJob({ name: 'x', total: 1, output: jsonl(), item: (i) => ({ i }) })\n",
      ),
    ])
    expect(result.code).toBe(2)
    expect(result.stderr).toMatch(/job file .*job\.ts failed to load: the model file is missing/)
  })

  it('a job that does not parse is refused naming its file, line and column (exit 2)', async () => {
    const path = job("export default defineJob({ name: 'x', total: 1, output: jsonl(), item: (i) => ({ i }) \n")
    const result = await runCli(['run', path])
    expect(result.code).toBe(2)
    expect(result.stderr).toContain(`${path}:3:0: ERROR: Expected "}" but found end of file`)
  })
})

describe('compiled-code-reused-only-while-its-sources-are-unchanged', () => {
  /** The items of a finished run, in index order. */
  const items = (out: string) =>
    readdirSync(join(out, 'data'))
      .filter((name) => name.endsWith('.jsonl'))
      .flatMap((shard) =>
        readFileSync(join(out, 'data', shard), 'utf8')
          .trim()
          .split('\n'),
      )
      .map((line) => JSON.parse(line) as { i: number; y: number })
      .sort((a, b) => a.i - b.i)

  it('a new process runs what the job and its imports say now, though the code compiled from them before is kept on disk: an import changed with its size and time kept is compiled again', async () => {
    const dir = project(
      { type: 'module' },
      {
        'job.ts': [
          "import { defineJob, jsonl } from 'longhaul'",
          "import { k } from './k.ts'",
          "export default defineJob({ name: 'kept', total: 6, output: jsonl(), item: (i) => ({ i, y: i * k }) })",
          '',
        ].join('\n'),
        'k.ts': 'export const k = 2\n',
      },
    )
    const first = await runCli(['run', join(dir, 'job.ts'), '--out', join(dir, 'a')])
    expect(first.code, first.stderr).toBe(0)
    expect(items(join(dir, 'a')).map((item) => item.y)).toEqual([0, 2, 4, 6, 8, 10])
    const kept = readdirSync(join(dir, 'node_modules/.cache/longhaul'))
    expect(kept.filter((name) => name.endsWith('.json'))).toHaveLength(2) // the worker bundle's and the job module's

    // The same size, and the time it had: only its content tells the change.
    const { mtime } = statSync(join(dir, 'k.ts'))
    writeFileSync(join(dir, 'k.ts'), 'export const k = 3\n')
    utimesSync(join(dir, 'k.ts'), mtime, mtime)
    const second = await runCli(['run', join(dir, 'job.ts'), '--out', join(dir, 'b')])
    expect(second.code, second.stderr).toBe(0)
    expect(items(join(dir, 'b')).map((item) => item.y)).toEqual([0, 3, 6, 9, 12, 15])

    // Unchanged since: the code kept is what runs, and nothing new is compiled.
    const before = readdirSync(join(dir, 'node_modules/.cache/longhaul')).sort()
    const third = await runCli(['run', join(dir, 'job.ts'), '--out', join(dir, 'c')])
    expect(third.code, third.stderr).toBe(0)
    expect(items(join(dir, 'c')).map((item) => item.y)).toEqual([0, 3, 6, 9, 12, 15])
    expect(readdirSync(join(dir, 'node_modules/.cache/longhaul')).sort()).toEqual(before)
  })

  it('a config file changed between two processes is the one obeyed: its launch rules are read from what it says now', async () => {
    const config = (limit: number) =>
      `import { defineConfig } from 'longhaul'\nexport default defineConfig({ requireProofAbove: ${limit} })\n`
    const dir = project(
      { type: 'module' },
      {
        'job.ts':
          "import { defineJob, jsonl } from 'longhaul'\nexport default defineJob({ name: 'ruled', total: 50, output: jsonl(), item: (i) => ({ i }) })\n",
        'longhaul.config.ts': config(1_000),
      },
    )
    const allowed = await runCli(['run', join(dir, 'job.ts'), '--out', join(dir, 'a')])
    expect(allowed.code, allowed.stderr).toBe(0)
    writeFileSync(join(dir, 'longhaul.config.ts'), config(10))
    const refused = await runCli(['run', join(dir, 'job.ts'), '--out', join(dir, 'b')])
    expect(refused.code, refused.stderr).toBe(3)
    expect(refused.stderr).toContain('requireProofAbove')
  })
})
