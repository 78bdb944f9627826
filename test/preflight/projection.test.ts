import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { type CliResult, LONG, ROOT, runCli, tempDir } from '../support/cli.ts'

// Jobs whose items sleep (steady, slowing, bursty), so their pace is the job's and not the machine's load.
const pace = (name: string): string => join(ROOT, 'test/fixtures/pace', `${name}.ts`)
// Under `npm test`, only the suggested command is checked, not its pace: a second of items (half of it rehearsed), above
// the policy's requireProofAbove (50) so that the command must pass the gate. About a minute each, the default tenth
// rehearsed, under test:long, whose runs are timed against their projection: the jobs commit every 250 ms, so that a
// rehearsal of a few seconds commits a dozen times or more.
const SIZE = LONG
  ? {
      target: 4_000,
      config: 'long.config.ts',
      params: { steady: ['ms=20'], slowing: ['ms=20', 'per=2000'], bursty: ['ms=20'] },
    }
  : {
      target: 200,
      config: 'longhaul.config.ts',
      params: { steady: ['ms=10'], slowing: ['ms=10', 'per=300'], bursty: ['ms=10'] },
    }
type Kind = keyof typeof SIZE.params
const root = tempDir('longhaul-projection-')

interface Proved {
  readonly preflight: CliResult
  readonly projection: { readonly seconds: number; readonly low: number; readonly high: number }
  /** The run command PREFLIGHT.md suggests, split into words as a shell would. */
  readonly command: string[]
  readonly run: CliResult
  readonly wallSeconds: number
  readonly out: string
}

const proved = new Map<Kind, Promise<Proved>>()

/** `longhaul preflight` of the `kind` job at the target of this run of the suite, with seed 3, into `out`. */
const preflightArgs = (kind: Kind, out: string): string[] => [
  'preflight',
  pace(kind),
  '--target',
  String(SIZE.target),
  '--out',
  out,
  '--seed',
  '3',
  '--config',
  join(ROOT, 'test/fixtures/pace', SIZE.config),
  ...SIZE.params[kind].flatMap((p) => ['--param', p]),
]

/** Preflights the job from the CLI, then runs the command its PREFLIGHT.md suggests, timing it from start to exit. */
function proveAndRun(kind: Kind): Promise<Proved> {
  let done = proved.get(kind)
  if (!done) {
    done = (async () => {
      const out = join(root, kind)
      const preflight = await runCli(preflightArgs(kind, out))
      expect(preflight.code, preflight.stderr + preflight.stdout).toBe(0)
      const proofs = join(out, 'proofs')
      const proofFile = readdirSync(proofs).find(
        (name) => name.endsWith('.intoto.jsonl') && !name.endsWith('.failed.intoto.jsonl'),
      )!
      const measured = JSON.parse(readFileSync(join(proofs, proofFile), 'utf8')).predicate.checks.find(
        (c: { id: string }) => c.id === 'rehearsal',
      ).measurements
      const projection = {
        seconds: measured.projectedSeconds,
        low: measured.projectedLowSeconds,
        high: measured.projectedHighSeconds,
      }
      const line = /`(npx longhaul run [^`]+)`/.exec(readFileSync(join(proofs, 'PREFLIGHT.md'), 'utf8'))
      expect(line, 'PREFLIGHT.md suggests a run command').not.toBeNull()
      const command = shellWords(line![1]!)
      const started = Date.now()
      const run = await runCli(command.slice(2))
      const wallSeconds = (Date.now() - started) / 1000
      return { preflight, projection, command, run, wallSeconds, out }
    })()
    proved.set(kind, done)
  }
  return done
}

/** Splits a command line as a POSIX shell does for bare and single-quoted words (what runCommandLine writes). */
function shellWords(line: string): string[] {
  const words: string[] = []
  for (const match of line.matchAll(/(?:'((?:[^']|'\\'')*)'|(\S+))/g))
    words.push(match[1] !== undefined ? match[1].replace(/'\\''/g, "'") : match[2]!)
  return words
}

const TIMEOUT = LONG ? 900_000 : 300_000

describe('preflight-run-command-is-the-proved-run', () => {
  it(
    'PREFLIGHT.md suggests a run command with every param, the seed and the policy, which runs past the gate as pasted',
    async () => {
      const { command, run, out } = await proveAndRun('steady')
      expect(command).toEqual(
        expect.arrayContaining([
          '--params',
          JSON.stringify({ ms: Number(SIZE.params.steady[0]!.slice(3)) }),
          '--seed',
          '3',
          '--config',
          join(ROOT, 'test/fixtures/pace', SIZE.config),
          '--total',
          String(SIZE.target),
          '--workers',
        ]),
      )
      expect(run.code, run.stderr).toBe(0)
      expect(JSON.parse(readFileSync(join(out, 'progress.json'), 'utf8')).gate).toMatchObject({ status: 'proved' })
      // The command without its params is what used to be suggested: the job's params are required, so it was refused.
      const without = command.slice(2).filter((word, i, all) => word !== '--params' && all[i - 1] !== '--params')
      expect((await runCli(without)).code).toBe(2)
      expect(existsSync(join(out, 'data'))).toBe(true)
    },
    TIMEOUT,
  )
})

// Real runs timed against their projection are timing tests: on a shared machine a run's start-up can differ from
// the rehearsal's by more than the interval allows, so they run under test:long only. The estimator itself is
// checked on recorded steady, slowing and bursty traces in estimates.test.ts, in every run of the suite.
describe.runIf(LONG)('projection-holds', () => {
  it.each(['steady', 'slowing', 'bursty'] as const)(
    '%s items: the terminal shows the projected duration, and the real run of the suggested command ends inside its interval',
    async (kind) => {
      const { preflight, projection, run, wallSeconds } = await proveAndRun(kind)
      expect(run.code, run.stderr).toBe(0)
      expect(preflight.stdout).toMatch(
        new RegExp(
          `projected  \\S+ \\(\\S+ – \\S+\\) for ${SIZE.target.toLocaleString('en-US')} items on \\d+ workers?, start-up included`,
        ),
      )
      expect(preflight.stdout).toMatch(/run with   npx longhaul run /)
      expect(projection.low).toBeLessThanOrEqual(projection.seconds)
      expect(projection.high).toBeGreaterThanOrEqual(projection.seconds)
      expect(
        wallSeconds,
        `${kind}: ran ${wallSeconds.toFixed(1)} s, projected ${projection.seconds.toFixed(1)} s (${projection.low.toFixed(1)} – ${projection.high.toFixed(1)})`,
      ).toBeGreaterThanOrEqual(projection.low)
      expect(
        wallSeconds,
        `${kind}: ran ${wallSeconds.toFixed(1)} s, projected ${projection.seconds.toFixed(1)} s (${projection.low.toFixed(1)} – ${projection.high.toFixed(1)})`,
      ).toBeLessThanOrEqual(projection.high)
    },
    TIMEOUT,
  )

  // Three preflights of one job once projected 21 s, 26 s and 62 s: two must now agree within their intervals.
  it(
    "steady items: a second preflight of the same job projects within the first one's interval, and the first within the second's",
    async () => {
      const first = (await proveAndRun('steady')).projection
      const again = await runCli([...preflightArgs('steady', join(root, 'steady-again')), '--json'])
      expect(again.code, again.stderr).toBe(0)
      const m = JSON.parse(again.stdout).checks.find((c: { id: string }) => c.id === 'rehearsal').measurements
      expect(m.projectedSeconds).toBeGreaterThanOrEqual(first.low)
      expect(m.projectedSeconds).toBeLessThanOrEqual(first.high)
      expect(first.seconds).toBeGreaterThanOrEqual(m.projectedLowSeconds)
      expect(first.seconds).toBeLessThanOrEqual(m.projectedHighSeconds)
    },
    TIMEOUT,
  )
})
