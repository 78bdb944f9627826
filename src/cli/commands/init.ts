import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { basename, join, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { UsageError } from '../../errors.ts'
import { findConfig } from '../../preflight/policy.ts'
import { EXIT } from '../exitCodes.ts'
import type { Io } from '../io.ts'

const TEMPLATES = fileURLToPath(new URL('../../../templates/', import.meta.url))

/** What each template writes beside its job.ts (and the shared job.test.ts). */
const EXTRA_FILES: Record<string, readonly string[]> = { generator: [], input: ['input.jsonl'], loop: [], python: [] }
/** A Python job: gen.py, its pytest file, and the conftest.py that lets the tests import longhaul from node_modules. */
const PYTHON_FILES = ['gen.py', 'test_gen.py', 'conftest.py']

export interface InitOptions {
  readonly dir?: string
  readonly name?: string
  readonly force?: boolean
}

/** `longhaul init [TEMPLATE]`: a new job with its non-functional tests (and a policy file when none applies). */
export async function initCommand(template: string | undefined, options: InitOptions, io: Io): Promise<number> {
  const kind = template ?? 'generator'
  if (!(kind in EXTRA_FILES))
    throw new UsageError(`no template '${kind}'; choose one of: ${Object.keys(EXTRA_FILES).join(', ')}`)
  const dir = resolve(options.dir ?? '.')
  const name =
    options.name ??
    (basename(dir)
      .replace(/[^A-Za-z0-9._-]/g, '-')
      .replace(/^[^A-Za-z0-9]+/, '') ||
      'my-job')
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(name))
    throw new UsageError(`--name '${name}' must be letters, digits, '.', '_' or '-'`)

  const python = kind === 'python'
  const jobFile = python ? 'gen.py' : 'job.ts'
  // Map templates share one test file: the same checks whatever the job; a loop's crash test needs its own settings.
  const writes = (python ? PYTHON_FILES : ['job.ts', ...EXTRA_FILES[kind]!]).map((file) => ({
    from: join(TEMPLATES, kind, file),
    to: join(dir, file),
  }))
  const ownTest = join(TEMPLATES, kind, 'job.test.ts')
  if (!python)
    writes.push({ from: existsSync(ownTest) ? ownTest : join(TEMPLATES, 'job.test.ts'), to: join(dir, 'job.test.ts') })
  if (!findConfig(join(dir, jobFile)))
    writes.push({ from: join(TEMPLATES, 'longhaul.config.ts'), to: join(dir, 'longhaul.config.ts') })
  const clashes = writes.filter((w) => existsSync(w.to)).map((w) => relative(process.cwd(), w.to))
  if (clashes.length && !options.force)
    throw new UsageError(
      `${clashes.join(', ')} already exist${clashes.length === 1 ? 's' : ''}; choose another --dir, or pass --force to overwrite`,
    )

  mkdirSync(dir, { recursive: true })
  for (const { from, to } of writes) {
    if (!to.endsWith('.ts') && !to.endsWith('gen.py')) {
      copyFileSync(from, to)
      continue
    }
    const text = readFileSync(from, 'utf8')
      .replaceAll('__NAME__', name)
      .replaceAll('__TEST_PATH__', relative(process.cwd(), join(dir, 'job.test.ts')) || 'job.test.ts')
    writeFileSync(to, text)
  }
  const shown = (file: string): string => relative(process.cwd(), join(dir, file)) || file
  io.out(
    [
      `Created ${kind === 'input' ? 'an' : 'a'} ${kind} job '${name}':`,
      ...writes.map((w) => `  ${relative(process.cwd(), w.to)}`),
      'Next:',
      python
        ? `  python3 -m pytest ${shown('test_gen.py')}     # its crash test`
        : `  node --import tsx --test ${shown('job.test.ts')}     # its crash, progress and loss tests`,
      `  npx longhaul run ${shown(jobFile)}${kind === 'generator' || python ? ' --total 100' : ''}`,
      `  npx longhaul preflight ${shown(jobFile)} --target ${kind === 'input' ? '200' : '100000'}   # before a production-scale run`,
    ].join('\n'),
  )
  return EXIT.ok
}
