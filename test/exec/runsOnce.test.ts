import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { describe, it, type TestContext } from 'vitest'
import { runPaths } from '../../src/files/runPaths.ts'
import { SqliteStore } from '../../src/journal/sqlite/sqliteStore.ts'
import { processAlive } from '../../src/telemetry/processAlive.ts'
import { LONG, ROOT, runCli, startCli, startNode, waitFor } from '../support/cli.ts'

const ONCE = join(ROOT, 'test/fixtures/exec/once.py')

/**
 * A fresh folder for one test, removed when it ends. The tests of this file run at the same time (each waits on its
 * programs, in a folder of its own that its process checks are scoped to), so each registers on its own context.
 */
function testDir(onTestFinished: TestContext['onTestFinished']): string {
  const dir = mkdtempSync(join(tmpdir(), 'longhaul-test-'))
  onTestFinished(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

interface Proc {
  readonly pid: number
  readonly ppid: number
  readonly cmdline: string
}

/** Every live (not zombie) process whose command line mentions `marker`. */
function processesWith(marker: string): Proc[] {
  const found: Proc[] = []
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    try {
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8').replaceAll('\0', ' ')
      if (!cmdline.includes(marker)) continue
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8')
      const [state, ppid] = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
      if (state !== 'Z' && state !== 'X') found.push({ pid: Number(entry), ppid: Number(ppid), cmdline })
    } catch {
      // Gone while looked at.
    }
  }
  return found
}

/**
 * Copies of the program itself (python3 once.py …, python3 being whatever PATH's python3 execs into): not its
 * supervisor, nor the gate before it becomes the program, nor a version manager's shim on the way.
 */
const copies = (marker: string): Proc[] =>
  processesWith(marker).filter((p) => new RegExp(`^\\S*python3[\\d.]* ${ONCE} `).test(p.cmdline))

const lines = (log: string): string[] =>
  existsSync(log) ? readFileSync(log, 'utf8').trim().split('\n').filter(Boolean) : []

/** Samples the copies running at once every few ms, until stopped; resolves with the most seen together. */
function watchCopies(marker: string): { stop: () => Promise<number> } {
  let most = 0
  let running = true
  const loop = (async () => {
    while (running) {
      most = Math.max(most, copies(marker).length)
      await sleep(10)
    }
  })()
  return {
    stop: async () => {
      running = false
      await loop
      return most
    },
  }
}

/** Leaves the machine as found, whatever the test did. */
function killAll(marker: string): void {
  for (const p of processesWith(marker)) {
    try {
      process.kill(p.pid, 'SIGKILL')
    } catch {
      // Gone.
    }
  }
}

async function eventTypes(dir: string): Promise<string[]> {
  const store = SqliteStore.open(runPaths(dir).journal, { readonly: true })
  try {
    return (await store.events()).map((e) => e.type)
  } finally {
    await store.close()
  }
}

describe.concurrent('exec-runs-once', () => {
  it('a supervisor killed after spawning the program but before journaling it: the program never runs, and the next exec runs it once', async ({
    expect,
    onTestFinished,
  }) => {
    const dir = testDir(onTestFinished)
    const [out, lock, log] = [join(dir, 'run'), join(dir, 'lock'), join(dir, 'log')]
    const args = ['exec', '--out', out, '--grace', '1', '--', 'python3', ONCE, lock, log, '0.5']
    try {
      const killed = await runCli(args, { LONGHAUL_CRASH_AT: 'program-spawned:1' })
      expect(killed.signal, killed.stderr).toBe('SIGKILL')
      // Held at its gate, it sees its supervisor gone and exits without running.
      await waitFor('the gated program to go', () => (processesWith(dir).length === 0 ? true : undefined), 10_000)
      expect(lines(log)).toEqual([])
      const again = await runCli(args)
      expect(again.code, again.stderr).toBe(0)
      expect(lines(log)).toHaveLength(1)
      expect(lines(log)[0]).toMatch(/ alone$/)
    } finally {
      killAll(dir)
    }
  })

  it('supervisors SIGKILLed at random moments right after spawning a silent program, each followed by a new exec: never two copies at once', async ({
    expect,
    onTestFinished,
  }) => {
    const dir = testDir(onTestFinished)
    const [out, lock, log] = [join(dir, 'run'), join(dir, 'lock'), join(dir, 'log')]
    const args = ['exec', '--out', out, '--grace', '1', '--', 'python3', ONCE, lock, log, '30']
    const watch = watchCopies(dir)
    try {
      // Spread from the instant of spawning (before the journal) to well after (the program running), with jitter.
      // Three moments in the default suite; `npm run test:long` adds three more in between and after.
      for (const spread of LONG ? [0, 30, 100, 400, 1_500, 3_000] : [0, 400, 3_000]) {
        const exec = startCli(args)
        const supervisor = exec.child.pid!
        // The moment the program's process exists (at its gate, or already the program), then a random instant after it.
        await waitFor(
          'the program to be spawned',
          () => (processesWith(dir).some((p) => p.ppid === supervisor && p.cmdline.includes(ONCE)) ? true : undefined),
          30_000,
        )
        await sleep(spread + Math.floor(Math.random() * 50))
        exec.child.kill('SIGKILL')
        await exec.done
      }
      // The last orphan goes too, within the grace period (its supervisor is dead).
      await waitFor('the last copy to be stopped', () => (copies(dir).length === 0 ? true : undefined), 15_000)
      const most = await watch.stop()
      expect(lines(log).filter((line) => line.endsWith('DOUBLE'))).toEqual([])
      expect(most).toBeLessThanOrEqual(1)
      // Some trials were killed after the program was let run: the test saw copies, and none beside another.
      expect(lines(log).length).toBeGreaterThanOrEqual(1)
    } finally {
      await watch.stop()
      killAll(dir)
    }
  })

  for (const ignoreTerm of [false, true]) {
    it(`a silent program${ignoreTerm ? ' that ignores SIGTERM' : ''} does not outlive its SIGKILLed supervisor by more than the grace period`, async ({
      expect,
      onTestFinished,
    }) => {
      const dir = testDir(onTestFinished)
      const [out, lock, log] = [join(dir, 'run'), join(dir, 'lock'), join(dir, 'log')]
      const exec = startCli([
        'exec',
        '--out',
        out,
        '--grace',
        '2',
        '--',
        'python3',
        ONCE,
        lock,
        log,
        '60',
        ...(ignoreTerm ? ['--ignore-term'] : []),
      ])
      try {
        const pid = await waitFor(
          'the program to run',
          () => (lines(log).length > 0 ? Number(lines(log)[0]!.split(' ')[0]) : undefined),
          30_000,
        )
        exec.child.kill('SIGKILL')
        await exec.done
        const killedAt = Date.now()
        await waitFor('the program to be stopped', () => (processAlive(pid) ? undefined : true), 15_000)
        // SIGTERM at once; SIGKILL after the 2 s grace for one that ignores it (slack for a loaded machine).
        expect(Date.now() - killedAt).toBeLessThan(ignoreTerm ? 10_000 : 6_000)
        if (ignoreTerm) expect(Date.now() - killedAt).toBeGreaterThanOrEqual(1_500)
      } finally {
        exec.child.kill('SIGKILL')
        killAll(dir)
      }
    })
  }

  for (const fresh of [false, true]) {
    it(`a program whose supervisor and watchdog were both killed is found by the next exec${fresh ? ' --fresh' : ''} and stopped before it runs again`, async ({
      expect,
      onTestFinished,
    }) => {
      const dir = testDir(onTestFinished)
      const [out, lock, log] = [join(dir, 'run'), join(dir, 'lock'), join(dir, 'log')]
      const program = ['python3', ONCE, lock, log]
      const first = startCli(['exec', '--out', out, '--grace', '1', '--', ...program, '60'])
      try {
        const pid = await waitFor(
          'the program to run',
          () => (lines(log).length > 0 ? Number(lines(log)[0]!.split(' ')[0]) : undefined),
          30_000,
        )
        const supervisor = first.child.pid!
        const watchdogs = readdirSync('/proc')
          .filter((e) => /^\d+$/.test(e))
          .filter((e) => {
            try {
              const stat = readFileSync(`/proc/${e}/stat`, 'utf8')
              return (
                stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1] === String(supervisor) &&
                readFileSync(`/proc/${e}/cmdline`, 'utf8').includes('longhaul-watchdog')
              )
            } catch {
              return false
            }
          })
        expect(watchdogs).toHaveLength(1)
        process.kill(Number(watchdogs[0]), 'SIGKILL')
        first.child.kill('SIGKILL')
        await first.done
        await sleep(1_500)
        expect(processAlive(pid)).toBe(true)
        // Same command, so the same run: the orphan is stopped first, then the program runs once more, alone.
        const second = await runCli(
          ['exec', '--out', out, '--grace', '1', ...(fresh ? ['--fresh'] : []), '--', ...program, '60'],
          { ONCE_SECONDS: '0.2' },
        )
        expect(second.code, second.stderr).toBe(0)
        expect(second.stderr).toContain(`(pid ${pid}`)
        expect(second.stderr).toContain('is still running without its supervisor; stopping it')
        expect(processAlive(pid)).toBe(false)
        expect(lines(log)).toHaveLength(2)
        expect(lines(log).filter((line) => line.endsWith('DOUBLE'))).toEqual([])
        // --fresh set the earlier run aside, with the orphan-stopped event in its journal.
        if (!fresh) expect(await eventTypes(out)).toContain('orphan-stopped')
      } finally {
        first.child.kill('SIGKILL')
        killAll(dir)
      }
    })
  }
})

describe.concurrent('exec-runs-once: the gate', () => {
  it('a program spawned by a supervisor that dies before letting it run never runs; let run, it does', async ({
    expect,
    onTestFinished,
  }) => {
    const dir = testDir(onTestFinished)
    const fixture = join(ROOT, 'test/fixtures/exec/gateThenDie.mjs')
    const died = join(dir, 'died')
    const killed = await startNode([fixture, 'die', died]).done
    expect(killed.signal, killed.stderr).toBe('SIGKILL')
    const pid = Number(killed.stdout.trim())
    expect(pid).toBeGreaterThan(0)
    await waitFor('the gate to exit', () => (processAlive(pid) ? undefined : true), 10_000)
    expect(existsSync(died)).toBe(false)
    const released = join(dir, 'released')
    const ran = await startNode([fixture, 'release', released]).done
    expect(ran.code, ran.stderr).toBe(0)
    expect(readFileSync(released, 'utf8')).toBe('ran\n')
  })
})
