/**
 * A damaged run folder gets a clear error and a way out, never "internal
 * error": each damage below is made to a real, complete run's folder, and
 * `run`, `verify` and `status` must name it and exit 2. `run --fresh` sets a
 * damaged run aside, keeping its files. And everything a reader relies on
 * (data/index.json) is verified, and restored by `run`.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { runCliHere } from '../support/cli.ts'
import { completeRun, journal, SQUARES, shards } from '../support/completeRun.ts'

const { root, complete, damaged } = completeRun('longhaul-damaged-', 60)
const job = SQUARES

describe('damaged-run-named-never-internal-error', () => {
  const journalCases: [string, (dir: string) => void, RegExp][] = [
    [
      'a journal truncated to 0 bytes',
      (dir) => truncateSync(journal(dir), 0),
      /journal \.longhaul\/journal\.sqlite is empty \(0 bytes\)/,
    ],
    [
      'a journal truncated to half',
      (dir) => truncateSync(journal(dir), Math.floor(readFileSync(journal(dir)).length / 2)),
      /journal \.longhaul\/journal\.sqlite is unreadable: database disk image is malformed/,
    ],
    [
      'a garbled journal',
      (dir) => writeFileSync(journal(dir), Buffer.alloc(8192, 0x5a)),
      /journal \.longhaul\/journal\.sqlite is not a SQLite database/,
    ],
  ]
  for (const [what, damage, named] of journalCases) {
    it(`${what}: run, verify and status name it, say what to do, and exit 2`, async () => {
      const dir = damaged(damage)
      const before = shards(dir)
      for (const args of [
        ['run', job, '--out', dir, '--workers', '1'],
        ['verify', dir],
        ['status', dir],
      ]) {
        const result = await runCliHere(args)
        const said = result.stderr + result.stdout
        expect(said, args[0]).not.toMatch(/internal error/)
        expect(said, args[0]).toMatch(/the run in .* is damaged/)
        expect(said, args[0]).toMatch(named)
        expect(said, args[0]).toMatch(/--fresh: it moves .* aside .*nothing is deleted/)
        expect(result.code, args[0]).toBe(2)
      }
      // Refused before anything changed.
      expect(shards(dir)).toEqual(before)
    })
  }

  const layoutCases: [string, (dir: string) => void, RegExp][] = [
    [
      'a folder where a shard is expected',
      (dir) => {
        const name = shards(dir)[1]!
        rmSync(join(dir, 'data', name))
        mkdirSync(join(dir, 'data', name))
      },
      /data\/\d{12}-\d{12}\.jsonl is a folder, where longhaul keeps a file of its own\. Move .* elsewhere/,
    ],
    [
      'a folder where a temp file is expected',
      (dir) => mkdirSync(join(dir, 'data', '.tmp-0a1b2c-000000000000-000000000001.jsonl')),
      /data\/\.tmp-0a1b2c-.* is a folder/,
    ],
    [
      '.longhaul/quarantine being a file',
      (dir) => writeFileSync(join(dir, '.longhaul', 'quarantine'), 'mine'),
      /\.longhaul\/quarantine is a file, where longhaul keeps a folder/,
    ],
  ]
  for (const [what, damage, named] of layoutCases) {
    it(`${what}: run and verify name it and exit 2, and leave it where it is`, async () => {
      const dir = damaged(damage)
      for (const args of [
        ['run', job, '--out', dir, '--workers', '1'],
        ['verify', dir],
      ]) {
        const result = await runCliHere(args)
        expect(result.stderr, args[0]).not.toMatch(/internal error/)
        expect(result.stderr, args[0]).toMatch(named)
        expect(result.code, args[0]).toBe(2)
      }
      const status = await runCliHere(['status', dir])
      expect(status.stderr + status.stdout).not.toMatch(/internal error/)
    })
  }

  it('data/ deleted: verify names it and what to do (exit 2); run makes the items again', async () => {
    const dir = damaged((d) => rmSync(join(d, 'data'), { recursive: true }))
    const verify = await runCliHere(['verify', dir])
    expect(verify.stderr).not.toMatch(/internal error/)
    expect(verify.stderr).toMatch(
      /its data\/ folder, where the journal records the run's shards, is missing\. If it was moved, put it back/,
    )
    expect(verify.code).toBe(2)
    const status = await runCliHere(['status', dir])
    expect(status.code).toBe(0)
    const run = await runCliHere(['run', job, '--out', dir, '--workers', '1'])
    expect(run.code, run.stderr).toBe(0)
    expect((await runCliHere(['verify', dir])).code).toBe(0)
  })
})

describe('status-on-malformed-progress-json', () => {
  it('a malformed progress.json: status says so, from the journal, and does not crash', async () => {
    const dir = damaged((d) => writeFileSync(join(d, 'progress.json'), '{"state": "runn'))
    const result = await runCliHere(['status', dir])
    expect(result.stderr + result.stdout).not.toMatch(/internal error/)
    expect(result.stdout).toMatch(/COMPLETE \(from the journal: its progress\.json is malformed/)
    expect(result.code).toBe(0)
    // Without a journal to fall back on, the file's damage is the answer (exit 2).
    const alone = join(root, 'progress-only')
    mkdirSync(alone)
    writeFileSync(join(alone, 'progress.json'), '[1, 2')
    const bare = await runCliHere(['status', alone])
    expect(bare.stderr + bare.stdout).not.toMatch(/internal error/)
    expect(bare.stdout).toMatch(/UNREADABLE — the run in .* is damaged: its progress\.json is malformed/)
    expect(bare.code).toBe(2)
  })
})

describe('fresh-sets-a-damaged-run-aside', () => {
  it('run --fresh on a run whose journal is malformed moves it aside whole and completes a new run', async () => {
    const dir = damaged((d) => truncateSync(journal(d), Math.floor(readFileSync(journal(d)).length / 2)))
    const before = shards(dir)
    const result = await runCliHere(['run', job, '--out', dir, '--workers', '1', '--fresh'])
    expect(result.stderr).not.toMatch(/internal error|malformed/)
    expect(result.code, result.stderr).toBe(0)
    const aside = readdirSync(root).filter((name) => name.startsWith(`${dir.split('/').at(-1)}.before-`))
    expect(aside).toHaveLength(1)
    // Nothing of the damaged run was deleted.
    expect(shards(join(root, aside[0]!))).toEqual(before)
    expect(existsSync(journal(join(root, aside[0]!)))).toBe(true)
    expect((await runCliHere(['verify', dir])).code).toBe(0)
  })
})

describe('reader-files-verified', () => {
  const index = (dir: string): string => join(dir, 'data', 'index.json')
  const cases: [string, (dir: string) => void, RegExp][] = [
    [
      'deleted',
      (dir) => rmSync(index(dir)),
      /data\/index\.json is missing: a reader that goes through it finds none of the 60 items/,
    ],
    [
      'garbled',
      (dir) => writeFileSync(index(dir), '{"format": "jsonl", "shards": [{"sta'),
      /data\/index\.json is not valid JSON/,
    ],
    [
      'missing one entry',
      (dir) => {
        const parsed = JSON.parse(readFileSync(index(dir), 'utf8')) as { shards: unknown[] }
        parsed.shards.splice(1, 1)
        writeFileSync(index(dir), JSON.stringify(parsed))
      },
      /data\/index\.json does not match the journal: it leaves out 1 committed range\(s\)/,
    ],
    [
      'listing a shard the journal does not record',
      (dir) => {
        const parsed = JSON.parse(readFileSync(index(dir), 'utf8')) as { shards: unknown[] }
        parsed.shards.push({ start: 60, end: 61, files: ['000000000060-000000000061.jsonl'] })
        writeFileSync(index(dir), JSON.stringify(parsed))
      },
      /data\/index\.json does not match the journal: it lists 1 range\(s\) the journal does not record/,
    ],
  ]
  for (const [what, damage, named] of cases) {
    it(`index.json ${what}: verify fails naming it; run on the complete run restores it`, async () => {
      const original = readFileSync(index(complete))
      const dir = damaged(damage)
      const verify = await runCliHere(['verify', dir, '--json'])
      expect(verify.code).toBe(1)
      const report = JSON.parse(verify.stdout) as { complete: boolean; readerIndex?: string; digest: string | null }
      expect(report.complete).toBe(false)
      expect(report.digest).toBeNull()
      expect(report.readerIndex).toMatch(named)
      expect(report.readerIndex).toMatch(/run the same `longhaul run` command to rewrite it/)

      const run = await runCliHere(['run', job, '--out', dir, '--workers', '1'])
      expect(run.code, run.stderr).toBe(0)
      expect(readFileSync(index(dir))).toEqual(original)
      // Written atomically: no temporary file is left beside it.
      expect(readdirSync(join(dir, 'data')).filter((name) => name.startsWith('.tmp-'))).toEqual([])
      const again = await runCliHere(['verify', dir])
      expect(again.stdout).toMatch(/index\.json  matches the journal/)
      expect(again.code).toBe(0)
    })
  }
})
