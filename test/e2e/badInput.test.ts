/** Bad input gets a clear message naming what was wrong and exit 2, and never touches committed work. */
import { chmodSync, existsSync, mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { fixture, ROOT, runCli, runCliHere, tempDir } from '../support/cli.ts'

const root = tempDir()
const out = (name: string): string => join(root, name)

describe('bad input exits 2 with a clear message', () => {
  const cases: [string, string[], RegExp][] = [
    ['a missing job file', ['run', 'no/such/job.ts', '--out', out('a')], /job file no\/such\/job\.ts does not exist/],
    [
      'a job file without a default export',
      ['run', fixture('no-default.ts'), '--out', out('b')],
      /has no default export/,
    ],
    ['a default export that is not a job', ['run', fixture('not-a-job.ts'), '--out', out('c')], /is not a job/],
    [
      'params failing the schema',
      ['run', fixture('squares.ts'), '--out', out('d'), '--param', 'scale="big"'],
      /params of job 'squares' are invalid[\s\S]*scale/,
    ],
    [
      'a malformed --param',
      ['run', fixture('squares.ts'), '--out', out('e'), '--param', 'scale'],
      /--param needs key=value/,
    ],
    [
      'a param the job does not have',
      ['run', fixture('squares.ts'), '--out', out('e2'), '--param', 'scael=2'],
      /job 'squares' has no param 'scael'; its params are: scale/,
    ],
    [
      '--params that is not a JSON object',
      ['run', fixture('squares.ts'), '--out', out('f'), '--params', '[1]'],
      /--params must be a JSON object/,
    ],
    [
      'total of 0',
      ['run', fixture('squares.ts'), '--out', out('g'), '--total', '0'],
      /--total.*expected a whole number of at least 1, got '0'/,
    ],
    ['a negative total', ['run', fixture('squares.ts'), '--out', out('h'), '--total', '-5'], /--total.*at least 1/],
    [
      'workers that are not a number',
      ['run', fixture('squares.ts'), '--out', out('i'), '--workers', 'many'],
      /--workers.*got 'many'/,
    ],
    [
      'a seed above 2^32 - 1',
      ['run', fixture('squares.ts'), '--out', out('j'), '--seed', '4294967296'],
      /--seed.*from 0 to 4294967295, got '4294967296'/,
    ],
    [
      'a CSV input that does not exist',
      ['run', fixture('rows.ts'), '--out', out('k')],
      /cannot read CSV input .*missing\.csv: ENOENT/,
    ],
    [
      'a job with no total and no --total',
      ['run', fixture('no-total.ts'), '--out', out('l')],
      /job 'no-total' sets no total; pass --total N/,
    ],
    ['an unknown flag', ['run', fixture('squares.ts'), '--bogus'], /unknown option '--bogus'/],
    ['an unknown command', ['launch'], /unknown command 'launch'/],
    ['verify of a folder with no run', ['verify', root], /holds no longhaul run/],
    [
      'a policy file with an unknown rule or a bad value',
      [
        'run',
        fixture('squares.ts'),
        '--out',
        out('m'),
        '--config',
        join(ROOT, 'test/fixtures/configs/unknown-rule.config.ts'),
      ],
      /unknown-rule\.config\.ts is not a valid policy[\s\S]*maxLostWorkMinutes[\s\S]*diskMargin/,
    ],
    [
      'a flag looser than the policy (a day between checkpoints)',
      ['run', fixture('squares.ts'), '--out', out('p'), '--checkpoint-every', '86400'],
      /--checkpoint-every 86400 is above the policy's maxLostWorkSeconds \(300, .*longhaul\.config\.ts\)/,
    ],
    [
      'preflight without --target',
      ['preflight', fixture('squares.ts'), '--out', out('n')],
      /required option '--target <n>' not specified/,
    ],
    [
      'preflight of a missing job file',
      ['preflight', 'no/such/job.ts', '--target', '10', '--out', out('o')],
      /job file no\/such\/job\.ts does not exist/,
    ],
  ]
  // Each refusal is the CLI's main run in this process (what it says and its exit code are the same without a process
  // start); the two tests below start the real command. The rows job reads its CSV's path from ROWS.
  process.env.ROWS = join(root, 'missing.csv')
  for (const [what, args, message] of cases) {
    it(`${what}`, async () => {
      const result = await runCliHere(args)
      expect(result.stderr).toMatch(message)
      expect(result.stderr).not.toMatch(/internal error/)
      expect(result.code).toBe(2)
      // Refused before anything was written.
      expect(existsSync(join(String(args[args.indexOf('--out') + 1]), '.longhaul', 'journal.sqlite'))).toBe(false)
    })
  }

  it('an unwritable --out', async () => {
    const locked = out('locked')
    mkdirSync(locked)
    writeFileSync(join(locked, 'file'), '')
    // A path under a regular file can never be created, even by root.
    const result = await runCli(['run', fixture('squares.ts'), '--out', join(locked, 'file', 'run')])
    expect(result.stderr).toMatch(/cannot write to --out .*file\/run/)
    expect(result.code).toBe(2)
    chmodSync(locked, 0o755)
  })

  it('--help works everywhere and exits 0', async () => {
    for (const args of [['--help'], ['run', '--help'], ['verify', '--help']]) {
      const result = await runCli(args)
      expect(result.code).toBe(0)
      expect(result.stdout).toMatch(/Usage: longhaul/)
    }
  })
})
