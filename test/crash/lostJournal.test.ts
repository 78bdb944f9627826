/**
 * Full disk and lost journal files after the fact. A run SIGKILLed with its
 * commits still in the journal's write-ahead log, that log then deleted: every
 * command says the journal lost its records (never "items missing"), exit 2,
 * and deletes none of the intact shard files. A finished run whose disk then
 * filled (a real small tmpfs): run, verify and status say the disk is full,
 * exit 2, and all work again once space is back.
 */
import { cpSync, existsSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { fixture, runCliHere, startCli, tempDir, waitFor } from '../support/cli.ts'
import { smallDisk } from '../support/smallDisk.ts'

const root = tempDir('longhaul-lost-')
const job = fixture('squares.ts')
const shards = (dir: string): string[] =>
  readdirSync(join(dir, 'data'))
    .filter((name) => name.endsWith('.jsonl'))
    .sort()

/**
 * `verify`, `status` and `run` of `total` items on `dir`, each: what it said (stderr and stdout) and its exit code.
 * Each runs in this process (the CLI's main): what it says is the same without a process start; the kill is real.
 */
async function everyCommand(
  dir: string,
  total: number,
): Promise<{ command: string; said: string; code: number | null }[]> {
  const results = []
  for (const args of [
    ['verify', dir],
    ['status', dir],
    ['run', job, '--out', dir, '--workers', '1', '--total', String(total)],
  ]) {
    const result = await runCliHere(args)
    results.push({ command: args[0]!, said: result.stderr + result.stdout, code: result.code })
  }
  return results
}

/** A run SIGKILLed once a few shards are committed: its journal's WAL then holds its commits. */
async function killedRun(): Promise<string> {
  const out = join(root, 'killed')
  const run = startCli(['run', job, '--out', out, '--workers', '1', '--total', '2000', '--checkpoint-every', '0.1'], {
    ITEM_MS: '20',
  })
  await waitFor('a few committed shards', () =>
    existsSync(join(out, 'data')) && shards(out).length >= 4 ? true : undefined,
  )
  run.child.kill('SIGKILL')
  await run.done
  return out
}

describe('lost-journal-records-named', () => {
  let killed: string
  const copy = (name: string): string => {
    const dir = join(root, name)
    cpSync(killed, dir, { recursive: true })
    return dir
  }

  it('the WAL deleted after a crash: run, verify and status name the lost log, exit 2, and keep every shard', async () => {
    killed = await killedRun()
    expect(existsSync(join(killed, '.longhaul', 'journal.sqlite-wal'))).toBe(true)
    const dir = copy('no-wal')
    rmSync(join(dir, '.longhaul', 'journal.sqlite-wal'))
    const before = shards(dir)
    for (const { command, said, code } of await everyCommand(dir, 2000)) {
      expect(said, command).not.toMatch(/internal error|missing {5}\d/)
      expect(said, command).toMatch(
        /write-ahead log \.longhaul\/journal\.sqlite-wal is missing, though \.longhaul\/journal\.sqlite-shm shows it held \d+ page\(s\) of commits/,
      )
      expect(said, command).toMatch(/put it back as \.longhaul\/journal\.sqlite-wal/)
      expect(code, command).toBe(2)
    }
    expect(shards(dir)).toEqual(before)
  })

  it('the WAL and its index both deleted: the shards in data/ prove the journal lost records; nothing is deleted', async () => {
    const dir = copy('no-wal-no-shm')
    rmSync(join(dir, '.longhaul', 'journal.sqlite-wal'))
    rmSync(join(dir, '.longhaul', 'journal.sqlite-shm'))
    const before = shards(dir)
    for (const { command, said, code } of await everyCommand(dir, 2000)) {
      expect(said, command).not.toMatch(/internal error/)
      expect(said, command).toMatch(/the journal( \.longhaul\/journal\.sqlite)? (has lost records|holds no run)/)
      expect(code, command).toBe(2)
    }
    expect(shards(dir)).toEqual(before)
  })

  it('an intact crashed run still resumes: the checks do not mistake a crash for a loss', async () => {
    const dir = copy('intact')
    const resumed = await runCliHere(['run', job, '--out', dir, '--workers', '2', '--total', '2000'])
    expect(resumed.code, resumed.stderr).toBe(0)
    expect((await runCliHere(['verify', dir])).code).toBe(0)
  })
})

// Not root, or no mount in this sandbox: the test says so below instead of passing silently.
const disk = smallDisk('1m')
const mounted = disk !== undefined
const mountPoint = disk ?? ''

describe('full-disk-after-the-fact-named', () => {
  it.skipIf(!mounted)(
    'a finished run whose disk then filled: run, verify and status say the disk is full (exit 2); all work once space is back',
    async () => {
      const made = join(root, 'finished')
      const first = await runCliHere(['run', job, '--out', made, '--workers', '1', '--total', '60'])
      expect(first.code, first.stderr).toBe(0)
      const dir = join(mountPoint, 'run')
      cpSync(made, dir, { recursive: true })
      // Fill the disk to the last byte.
      try {
        for (let i = 0; ; i++) writeFileSync(join(mountPoint, `filler-${i}`), Buffer.alloc(64 * 1024))
      } catch (error) {
        expect((error as NodeJS.ErrnoException).code).toBe('ENOSPC')
      }
      for (const { command, said, code } of await everyCommand(dir, 60)) {
        expect(said, command).not.toMatch(/internal error/)
        expect(said, command).toMatch(
          /cannot use the journal .*journal\.sqlite .*disk I\/O error .*The disk holding it is full .*free some space and run the same command again/,
        )
        expect(code, command).toBe(2)
      }
      for (const name of readdirSync(mountPoint).filter((n) => n.startsWith('filler-'))) rmSync(join(mountPoint, name))
      const verify = await runCliHere(['verify', dir])
      expect(verify.code, verify.stdout).toBe(0)
      expect((await runCliHere(['run', job, '--out', dir, '--workers', '1', '--total', '60'])).code).toBe(0)
    },
  )

  it.runIf(!mounted)(
    'full-disk-after-the-fact needs root to mount a small tmpfs; run the suite as root to prove it',
    () => {
      expect(mounted).toBe(false)
    },
  )
})
