import { spawn } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { describe, it, type TestContext } from 'vitest'
import { programLives } from '../../src/dashboard/programProgress.ts'
import { runPaths } from '../../src/files/runPaths.ts'
import { SqliteStore } from '../../src/journal/sqlite/sqliteStore.ts'
import type { RunEvent } from '../../src/journal/store.ts'
import { processAlive } from '../../src/telemetry/processAlive.ts'
import type { ProgressSnapshot } from '../../src/telemetry/snapshot.ts'
import { BIN, LONG, ROOT, runCli, runCliHere, startCli } from '../support/cli.ts'

const COUNTER = join(ROOT, 'test/fixtures/exec/counter.py')

async function eventsOf(dir: string): Promise<RunEvent[]> {
  const store = SqliteStore.open(runPaths(dir).journal, { readonly: true })
  try {
    return await store.events()
  } finally {
    await store.close()
  }
}

const progressOf = (dir: string): ProgressSnapshot =>
  JSON.parse(readFileSync(join(dir, 'progress.json'), 'utf8')) as ProgressSnapshot

async function until<T>(
  what: string,
  probe: () => T | undefined | Promise<T | undefined>,
  timeoutMs = 20_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    try {
      const value = await probe()
      if (value !== undefined) return value
    } catch {
      // Not there yet.
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await sleep(50)
  }
}

/** The test's own hook: the tests of this file run at the same time, so each registers on its own context. */
type OnFinished = TestContext['onTestFinished']

/**
 * A fresh folder for one test, removed when it ends: `out` is where its run goes (not made yet), `dir` holds anything
 * else.
 */
function folders(onTestFinished: OnFinished): { dir: string; out: string } {
  const dir = mkdtempSync(join(tmpdir(), 'longhaul-test-'))
  onTestFinished(() => rmSync(dir, { recursive: true, force: true }))
  return { dir, out: join(dir, 'run') }
}

/** `longhaul exec --out OUT OPTIONS -- PROGRAM…` as arguments. */
const exec = (out: string, options: readonly string[], program: readonly string[]): string[] => [
  'exec',
  '--out',
  out,
  ...options,
  '--',
  ...program,
]

/** The counter fixture with `args`, its checkpoints in `dir`/ckpt. */
const counter = (dir: string, ...args: string[]): string[] => [
  'python3',
  COUNTER,
  ...args,
  '--ckpt-dir',
  join(dir, 'ckpt'),
]

/**
 * Starts a counter of 1000 steps of 50 ms under `exec OPTIONS`, and waits until its first life is journaled and it
 * has reported progress: a program well under way, for a test to signal its supervisor.
 */
async function startCounting(
  onTestFinished: OnFinished,
  options: readonly string[],
  ...args: string[]
): Promise<{ out: string; run: ReturnType<typeof startCli>; pid: number }> {
  const { dir, out } = folders(onTestFinished)
  const run = startCli(exec(out, options, counter(dir, '--steps', '1000', '--delay', '0.05', ...args)))
  const pid = await until('the program', () => firstPid(out))
  await until('progress', () => (progressOf(out).done > 0 ? true : undefined))
  return { out, run, pid }
}

describe.concurrent('longhaul exec', () => {
  // The longest first: the tests of this file run at the same time, a few at once.
  it("back-pressure: a program whose output nobody reads waits on its pipe; longhaul's memory does not grow with it", async ({
    expect,
    onTestFinished,
  }) => {
    const { out } = folders(onTestFinished)
    // Far more than the pipes between hold: a supervisor that kept reading what it cannot pass on would let the program
    // write all of it, and hold it (past the RSS limit below, on top of longhaul's own 90-100 MiB). Copied through in
    // the end, at some 4 s of CPU per 100 MiB: 300 MiB under test:long, 64 MiB otherwise.
    const BYTES = (LONG ? 300 : 64) * 1024 * 1024
    const child = spawn(process.execPath, [BIN, ...exec(out, [], ['head', '-c', String(BYTES), '/dev/zero'])], {
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    onTestFinished(() => void child.kill('SIGKILL')) // on failure too: no supervisor left holding a full pipe
    child.stdout.pause() // nobody reads for a while
    // Nobody reads: the program writes until the pipes are full, then waits on its pipe, its bytes written (wchar in
    // /proc/PID/io) standing still. Had it written everything, it would have ended (its /proc entry gone or standing at
    // BYTES): then the supervisor did not hold it back.
    const pid = await until('the program to start', () => firstPid(out))
    const written = (): number => Number(/wchar: (\d+)/.exec(readFileSync(`/proc/${pid}/io`, 'utf8'))?.[1] ?? BYTES)
    let before = -1
    const held = await until(
      'the program to stop writing',
      async () => {
        const now = existsSync(`/proc/${pid}/io`) ? written() : BYTES
        if (now === before) return now
        before = now
        await sleep(500)
        return undefined
      },
      60_000,
    )
    expect(held).toBeLessThan(BYTES)
    const rssMiB = Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'))![1]) / 1024
    expect(rssMiB).toBeLessThan(150)
    let bytes = 0
    child.stdout.on('data', (chunk: Buffer) => (bytes += chunk.length))
    child.stdout.resume()
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve))
    expect(code).toBe(0)
    expect(bytes).toBe(BYTES) // nothing lost
  })

  it("same-telemetry: a program's protocol progress and checkpoints become progress.json, PROGRESS.txt and journal events; exit 0 is COMPLETE", async ({
    expect,
    onTestFinished,
  }) => {
    const { dir, out } = folders(onTestFinished)
    const r = await runCli(exec(out, [], counter(dir, '--steps', '20')))
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout).toContain('finished 20') // the program's own output passes through
    const p = progressOf(out)
    expect(p).toMatchObject({ state: 'complete', done: 20, total: 20, unit: 'step', job: 'counter', checkpoints: 4 })
    expect(readFileSync(join(out, 'PROGRESS.txt'), 'utf8')).toMatch(/^COMPLETE\n[\s\S]*20 \/ 20 step \(100\.0%\)/)
    const types = (await eventsOf(out)).map((e) => e.type)
    expect(types.filter((t) => t === 'checkpoint')).toHaveLength(4)
    expect(types).toEqual(
      expect.arrayContaining(['started', 'program-started', 'program-exited', 'metrics', 'complete']),
    )
    const status = await runCliHere(['status', out])
    expect(status.stdout).toContain('COMPLETE')
  })

  it('plain lines: one progress line per --progress-every while progress keeps arriving, and metrics journaled as they come, not only at the end', async ({
    expect,
    onTestFinished,
  }) => {
    const { dir, out } = folders(onTestFinished)
    const r = await runCli(exec(out, ['--progress-every', '1'], counter(dir, '--steps', '30', '--delay', '0.1')))
    expect(r.code, r.stderr).toBe(0)
    const lines = r.stderr.split('\n').filter((line) => /^longhaul: \[counter\] RUNNING \d+\/30 step/.test(line))
    expect(lines.length).toBeGreaterThanOrEqual(2)
    const events = await eventsOf(out)
    const exited = events.find((e) => e.type === 'program-exited')!
    expect(events.filter((e) => e.type === 'metrics' && e.at < exited.at).length).toBeGreaterThanOrEqual(1)
  })

  it("plain lines: longhaul's own lines start on a line of their own, even while the program redraws a bar with \\r", async ({
    expect,
    onTestFinished,
  }) => {
    const { out } = folders(onTestFinished)
    const bar = `import sys, time
for i in range(1, 31):
    sys.stderr.write(f"\\r{i*100//30:3d}%|##| {i}/30 [00:0{i//10}<00:01, 10.0it/s]"); sys.stderr.flush(); time.sleep(0.1)
sys.stderr.write("\\n")`
    const r = await runCli(exec(out, ['--name', 'bar', '--progress-every', '1'], ['python3', '-c', bar]))
    expect(r.code, r.stderr).toBe(0)
    expect(r.stderr).toMatch(/\nlonghaul: \[bar\] RUNNING \d+\/30/)
    expect(r.stderr).not.toMatch(/[^\n]longhaul: /)
  })

  it("untouched-output: a program's stdout going to a pipe is copied byte for byte, even while longhaul writes its own lines mid-bar", async ({
    expect,
    onTestFinished,
  }) => {
    const { out } = folders(onTestFinished)
    // Redrawn with \r and never ending its line while longhaul's progress lines go out: the pipe must get exactly this.
    const bar = `import sys, time
for i in range(1, 26):
    sys.stdout.write(f"\\r{i}/25"); sys.stdout.flush(); time.sleep(0.1)`
    const r = await runCli(exec(out, ['--progress-every', '1'], ['python3', '-c', bar]))
    expect(r.code, r.stderr).toBe(0)
    expect(r.stderr).toMatch(/longhaul: \[python3\] RUNNING/) // longhaul did write its own lines meanwhile
    expect(r.stdout).toBe(Array.from({ length: 25 }, (_, i) => `\r${i + 1}/25`).join(''))
  })

  it('restart-from-checkpoint: a crash restarts the program with the newest checkpoint in the resume argument and LONGHAUL_RESUME_FROM; no step is lost; each life journals the count it starts from', async ({
    expect,
    onTestFinished,
  }) => {
    const { dir, out } = folders(onTestFinished)
    const log = join(dir, 'steps.log')
    const r = await runCli(
      exec(
        out,
        ['--restarts', '2', '--restart-delay', '0', '--resume-arg', '--resume {checkpoint}'],
        counter(dir, '--steps', '20', '--crash-at', '12', '--log', log),
      ),
    )
    expect(r.code, r.stderr).toBe(0)
    const checkpoint = join(dir, 'ckpt', 'step-00010.txt')
    expect(r.stdout).toContain(`started at 10 resume=${checkpoint} env=${checkpoint}`)
    expect(r.stderr).toMatch(/exited with code 3; restarting it \(1 of 2\) in 0s from .*step-00010\.txt/)
    // Steps 11 and 12 ran twice (after the last checkpoint); every step ran, in order, up to the end.
    const steps = readFileSync(log, 'utf8').trim().split('\n').map(Number)
    expect(steps).toEqual([
      ...Array.from({ length: 12 }, (_, i) => i + 1),
      ...Array.from({ length: 10 }, (_, i) => i + 11),
    ])
    const events = await eventsOf(out)
    expect(events.find((e) => e.type === 'restarting')?.detail).toMatchObject({ exitCode: 3, checkpoint })
    expect(events.filter((e) => e.type === 'program-started')).toHaveLength(2)
    // 0 without a checkpoint; then the 10 the program had reported when it announced step-00010: its 11th step is work.
    expect(events.filter((e) => e.type === 'program-started').map((e) => e.detail.from)).toEqual([0, 10])
    expect(programLives(events).map((life) => life.from)).toEqual([0, 10])
    expect(progressOf(out)).toMatchObject({ state: 'complete', done: 20, total: 20 })
  })

  it('restart-from-checkpoint: without a protocol event, the newest settled file of the glob is the checkpoint', async ({
    expect,
    onTestFinished,
  }) => {
    const { dir, out } = folders(onTestFinished)
    const glob = join(dir, 'ckpt', 'step-*.txt')
    const r = await runCli(
      exec(
        out,
        ['--restarts', '1', '--restart-delay', '0', '--checkpoints', glob, '--resume-arg', '--resume {checkpoint}'],
        counter(dir, '--steps', '12', '--every', '4', '--crash-at', '10', '--announce', '0', '--delay', '0.1'),
      ),
    )
    expect(r.code, r.stderr).toBe(0)
    // step-00008 was written two steps (0.2 s) before the crash: not settled (2 s) when the program died, so the file
    // before it, step-00004, is taken (whatever its age: only the newest file can be one still being written).
    expect(r.stdout).toContain(`started at 4 resume=${join(dir, 'ckpt', 'step-00004.txt')}`)
    // When the glob's file was written, and so where the program was, is not known: the resumed life's count is not.
    expect(programLives(await eventsOf(out)).map((life) => life.from)).toEqual([0, null])
  })

  it("restart-from-checkpoint: a file older than the run (another experiment's, or a run moved aside by --fresh) is never resumed from", async ({
    expect,
    onTestFinished,
  }) => {
    const { dir, out } = folders(onTestFinished)
    const ckpt = join(dir, 'ckpt')
    mkdirSync(ckpt)
    const old = join(ckpt, 'step-00015.txt')
    writeFileSync(old, '15')
    utimesSync(old, new Date(Date.now() - 60_000), new Date(Date.now() - 60_000))
    const r = await runCli(
      exec(
        out,
        ['--restarts', '1', '--restart-delay', '0', '--checkpoints', join(ckpt, 'step-*.txt')],
        counter(dir, '--steps', '20', '--every', '100', '--announce', '0', '--crash-at', '3'),
      ),
    )
    expect(r.code, r.stderr).toBe(0)
    expect(r.stderr).toContain('from the start: no checkpoint found')
    expect(r.stdout).not.toContain('started at 15')
  })

  it('restart-limit: a program that keeps failing is restarted N times, then longhaul exits with its exit code and says why', async ({
    expect,
    onTestFinished,
  }) => {
    const { out } = folders(onTestFinished)
    const r = await runCli(
      exec(out, ['--restarts', '2', '--restart-delay', '0'], ['python3', COUNTER, '--exit-code', '7']),
    )
    expect(r.code).toBe(7)
    expect(r.stderr).toContain('FAILED: the program exited with code 7; gave up after 2 restarts (--restarts 2)')
    const events = await eventsOf(out)
    expect(events.filter((e) => e.type === 'program-started')).toHaveLength(3)
    expect(progressOf(out)).toMatchObject({ state: 'failed' })
  })

  it('signal-forwarding: SIGTERM reaches the program, the run is INTERRUPTED with its exit code, and the same command resumes from its checkpoint', async ({
    expect,
    onTestFinished,
  }) => {
    const { dir, out } = folders(onTestFinished)
    const args = exec(out, ['--resume-arg', '--resume {checkpoint}'], counter(dir, '--steps', '40', '--delay', '0.05'))
    const first = startCli(args)
    await until('a checkpoint', () => (progressOf(out).checkpoints >= 2 ? true : undefined))
    first.child.kill('SIGTERM')
    const r = await first.done
    expect(r.code).toBe(130) // interrupted, whatever the program returned on its way out (DESIGN §2)
    expect(progressOf(out)).toMatchObject({ state: 'interrupted' })
    expect((await eventsOf(out)).find((e) => e.type === 'interrupted')?.detail).toMatchObject({ exitCode: 130 })
    expect((await eventsOf(out)).find((e) => e.type === 'program-exited')?.detail).toMatchObject({ signal: 'SIGTERM' }) // Python's default action
    const second = await runCli(args)
    expect(second.code, second.stderr).toBe(0)
    expect(second.stderr).toMatch(/resuming: the newest checkpoint is .*step-000(10|15|20|25|30|35)\.txt/)
    expect(second.stdout).toMatch(/started at (10|15|20|25|30|35) /)
    expect(progressOf(out)).toMatchObject({ state: 'complete', done: 40 })
    // The resumed session's life counts from where the program said it was at that checkpoint (journaled with it).
    const resumedAt = Number(/started at (\d+) /.exec(second.stdout)![1])
    expect(programLives(await eventsOf(out)).map((life) => life.from)).toEqual([0, resumedAt])
  })

  it('grace-then-kill: a program that ignores SIGTERM is SIGKILLed after the grace period', async ({
    expect,
    onTestFinished,
  }) => {
    const { out, run, pid } = await startCounting(onTestFinished, ['--grace', '1'], '--ignore-term')
    const sent = Date.now()
    run.child.kill('SIGTERM')
    const r = await run.done
    expect(r.code).toBe(130)
    expect(Date.now() - sent).toBeGreaterThanOrEqual(900)
    expect((await eventsOf(out)).find((e) => e.type === 'program-exited')?.detail).toMatchObject({ signal: 'SIGKILL' })
    expect(r.stderr).toContain('did not stop within 1s of SIGTERM; killing it (SIGKILL)')
    expect(processAlive(pid)).toBe(false)
    expect((await eventsOf(out)).map((e) => e.type)).toContain('program-killed')
  })

  it('leftovers: processes a crashed life started are stopped before the restart and before longhaul exits, so no two copies race', async ({
    expect,
    onTestFinished,
  }) => {
    const { dir, out } = folders(onTestFinished)
    const marker = join(dir, 'workers.log')
    // Starts a background worker (as a data loader does), then crashes.
    const script = `( while true; do echo "$$" >> '${marker}'; sleep 0.1; done ) </dev/null >/dev/null 2>&1 & sleep 0.5; exit 1`
    const r = await runCli(exec(out, ['--restarts', '1', '--restart-delay', '0', '--grace', '1'], ['sh', '-c', script]))
    expect(r.code).toBe(1)
    expect(r.stderr).toContain('processes it started are still running; stopping them')
    const lines = (): number => readFileSync(marker, 'utf8').trim().split('\n').length
    const before = lines()
    await sleep(500)
    expect(lines()).toBe(before) // nothing writes any more
    expect((await eventsOf(out)).filter((e) => e.type === 'leftovers-stopped')).toHaveLength(2)
  })

  it("output-gone: when longhaul's own stdout is closed (| head), the program goes on, supervised, and the run ends complete", async ({
    expect,
    onTestFinished,
  }) => {
    const { out } = folders(onTestFinished)
    const lines = 'i=0; while [ $i -lt 20000 ]; do echo line $i; i=$((i+1)); done; echo finished >&2'
    const child = spawn(process.execPath, [BIN, ...exec(out, [], ['sh', '-c', lines])], {
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let stderr = ''
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
    child.stdout.once('data', () => child.stdout.destroy()) // the reader goes away after the first lines
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve))
    expect(code, stderr).toBe(0)
    expect(stderr).toContain('finished')
    expect(progressOf(out)).toMatchObject({ state: 'complete' })
  })

  it('signal-forwarding: a hangup (the ssh session closed) is forwarded to the program, which would otherwise run on unsupervised', async ({
    expect,
    onTestFinished,
  }) => {
    const { out, run, pid } = await startCounting(onTestFinished, [])
    run.child.kill('SIGHUP')
    const r = await run.done
    expect(r.code).toBe(130)
    expect(processAlive(pid)).toBe(false)
    expect((await eventsOf(out)).find((e) => e.type === 'program-exited')?.detail).toMatchObject({ signal: 'SIGHUP' })
  })

  it('stall-detection: a program alive but silent is reported STALLED in progress.json and the journal', async ({
    expect,
    onTestFinished,
  }) => {
    const { dir, out } = folders(onTestFinished)
    const run = startCli(
      exec(out, ['--stall-after', '1', '--grace', '1'], counter(dir, '--steps', '10', '--hang-at', '3')),
    )
    let stalled: ProgressSnapshot
    try {
      stalled = await until('a stall', () => (progressOf(out).state === 'stalled' ? progressOf(out) : undefined))
    } finally {
      run.child.kill('SIGINT') // on failure too: a hung program's supervisor is not left behind
    }
    const r = await run.done
    expect(stalled.done).toBe(3)
    expect(stalled.stalledForSeconds).toBeGreaterThanOrEqual(1)
    expect(r.stderr).toContain('STALLED: the program is alive but has reported no progress')
    expect((await eventsOf(out)).map((e) => e.type)).toContain('stalled')
  })

  it('zero-change progress: the tqdm bars a program already prints are its progress (a real tqdm recording, replayed in pieces)', async ({
    expect,
    onTestFinished,
  }) => {
    const { out } = folders(onTestFinished)
    const replay = `import sys, time
data = open(sys.argv[1], 'rb').read()
for i in range(0, len(data), 97):
    sys.stderr.buffer.write(data[i:i + 97]); sys.stderr.flush(); time.sleep(0.001)`
    const recording = join(ROOT, 'test/fixtures/tqdm/nested.txt')
    const r = await runCli(exec(out, ['--name', 'nested'], ['python3', '-c', replay, recording]))
    expect(r.code, r.stderr).toBe(0)
    // The outer bar (epochs, the first with a total) is followed, not the inner batches bar that restarts every epoch.
    expect(progressOf(out)).toMatchObject({ state: 'complete', done: 3, total: 3 })
  })

  it('malformed-lines: garbage on stdout, stderr and the protocol never stops the supervisor; it is counted', async ({
    expect,
    onTestFinished,
  }) => {
    const { out } = folders(onTestFinished)
    const garbage = `import os, random
r = random.Random(7)
fd = int(os.environ['LONGHAUL_EVENTS'])
junk = lambda n: bytes(r.randrange(256) for _ in range(n))
for i in range(200):
    os.write(1, junk(50) + b'\\r 45%|##| 4/x [' + junk(5) + b'\\n')
    os.write(2, b'\\x1b[A' + junk(80) + b'it/s]\\r')
    os.write(fd, junk(40) + b'\\n{"type":"progress","done":-1}\\n{"type":"nope"}\\n{not json\\n')
os.write(fd, b'x' * 200000 + b'\\n')
os.write(fd, b'{"type":"progress","done":5,"total":5}\\n')`
    const r = await runCli(exec(out, ['--name', 'garbage', '--json'], ['python3', '-c', garbage]))
    expect(r.code, r.stderr).toBe(0)
    const result = JSON.parse(r.stdout.slice(r.stdout.lastIndexOf('\n{\n') + 1)) as {
      state: string
      malformedLines: number
    }
    expect(result.state).toBe('complete')
    expect(result.malformedLines).toBeGreaterThanOrEqual(200 * 3)
    expect(progressOf(out)).toMatchObject({ done: 5, total: 5 })
  })

  it('bad input: a missing program, a resume template without {checkpoint}, another command in the same run directory — each exit 2 with what to do', async ({
    expect,
    onTestFinished,
  }) => {
    const { dir, out } = folders(onTestFinished)
    const missing = await runCliHere(exec(out, [], ['no-such-program-xyz']))
    expect(missing.code).toBe(2)
    expect(missing.stderr).toContain("cannot start 'no-such-program-xyz': not found on PATH")
    expect(existsSync(out)).toBe(false)
    const template = await runCliHere(exec(join(dir, 'other'), ['--resume-arg', '--resume'], ['true']))
    expect(template.code).toBe(2)
    expect(template.stderr).toContain('--resume-arg must contain {checkpoint}')
    expect(existsSync(join(dir, 'other'))).toBe(false)
    expect((await runCli(exec(out, [], ['true']))).code).toBe(0)
    const other = await runCliHere(exec(out, [], ['sh', '-c', 'exit 0']))
    expect(other.code).toBe(2)
    expect(other.stderr).toContain('it ran `true`, not `sh -c exit 0`')
    expect(other.stderr).toContain('--fresh')
  })
})

/** The pid of the program's first life, once the journal records it. */
async function firstPid(dir: string): Promise<number | undefined> {
  if (!existsSync(runPaths(dir).journal)) return undefined
  return (await eventsOf(dir)).find((e) => e.type === 'program-started')?.detail.pid as number | undefined
}
