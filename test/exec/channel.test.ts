import { spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it, type TestContext } from 'vitest'
import { runPaths } from '../../src/files/runPaths.ts'
import { SqliteStore } from '../../src/journal/sqlite/sqliteStore.ts'
import type { ProgressSnapshot } from '../../src/telemetry/snapshot.ts'
import { ROOT, runCli, startCli, tempDir } from '../support/cli.ts'

const STRAY = join(ROOT, 'test/fixtures/exec/stray.py')
const USER_DATA = "the user's own data: not a byte of it is longhaul's\n"

/** A fresh folder for a test that runs at the same time as others, removed when it ends (its own context's hook). */
function testDir(onTestFinished: TestContext['onTestFinished']): string {
  const dir = mkdtempSync(join(tmpdir(), 'longhaul-test-'))
  onTestFinished(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

async function logMessages(dir: string): Promise<string[]> {
  const store = SqliteStore.open(runPaths(dir).journal, { readonly: true })
  try {
    return (await store.events()).filter((e) => e.type === 'log').map((e) => String(e.detail.message))
  } finally {
    await store.close()
  }
}

describe('exec-channel-never-misdirected', () => {
  // Real processes: the supervisor, a Python program using python/longhaul.py, a subprocess whose fd 3 is a data file,
  // and a multiprocessing pool whose workers inherit LONGHAUL_EVENTS=3 but not the channel.
  for (const method of ['spawn', 'forkserver'] as const) {
    it.concurrent(`a subprocess with a data file on fd 3, and a ${method} pool's workers, write nothing anywhere; the program's own progress arrives`, async ({
      expect,
      onTestFinished,
    }) => {
      const dir = testDir(onTestFinished)
      const out = join(dir, 'run')
      const data = join(dir, 'data.txt')
      writeFileSync(data, USER_DATA)
      const r = await runCli(['exec', '--out', out, '--name', 'stray', '--', 'python3', STRAY, data, method], {
        PYTHONPATH: join(ROOT, 'python'),
      })
      expect(r.code, r.stderr).toBe(0)
      // The subprocess's progress, log and metric calls found fd 3 to be the data file, not the channel: no-ops.
      expect(readFileSync(data, 'utf8')).toBe(USER_DATA)
      // The pool's workers did not write into multiprocessing's own pipes: it returned every result.
      const logs = await logMessages(out)
      expect(logs).toContain('pool result 140')
      // Nothing of a stray process reached the run: only the program's own progress and logs.
      expect(logs.filter((m) => m.startsWith('worker') || m.includes('stray'))).toEqual([])
      const progress = JSON.parse(readFileSync(join(out, 'progress.json'), 'utf8')) as ProgressSnapshot
      expect(progress).toMatchObject({ state: 'complete', done: 5, total: 5, unit: 'step' })
      expect(r.stderr).not.toContain('progress reporting')
    })
  }

  it.concurrent('a program that writes raw JSON lines to fd 3, as docs/exec.md says, is still heard', async ({
    expect,
    onTestFinished,
  }) => {
    const dir = testDir(onTestFinished)
    const out = join(dir, 'run')
    const raw = `import json, os
fd = int(os.environ["LONGHAUL_EVENTS"])
os.write(fd, (json.dumps({"type": "progress", "done": 7, "total": 7, "unit": "row"}) + "\\n").encode())`
    const r = await runCli(['exec', '--out', out, '--name', 'raw', '--', 'python3', '-c', raw])
    expect(r.code, r.stderr).toBe(0)
    const progress = JSON.parse(readFileSync(join(out, 'progress.json'), 'utf8')) as ProgressSnapshot
    expect(progress).toMatchObject({ done: 7, total: 7, unit: 'row' })
  })

  // Alone, after the others: no other supervisor may remove the stale folder in its place.
  it('the channel leaves nothing on disk: its folder is gone once the program starts, and one left by a SIGKILLed supervisor is removed by the next', async () => {
    const dir = tempDir()
    const dead = spawnSync('true').pid!
    const stale = join(tmpdir(), `longhaul-events-${dead}-test`)
    const live = join(tmpdir(), `longhaul-events-${process.pid}-test`)
    for (const folder of [stale, live]) mkdirSync(folder)
    try {
      const exec = startCli(['exec', '--out', join(dir, 'run'), '--', 'true'])
      const r = await exec.done
      expect(r.code, r.stderr).toBe(0)
      expect(readdirSync(tmpdir()).filter((name) => name.startsWith(`longhaul-events-${exec.child.pid}-`))).toEqual([])
      expect(existsSync(stale)).toBe(false)
      expect(existsSync(live)).toBe(true) // a live supervisor's is never touched
    } finally {
      for (const folder of [stale, live]) rmSync(folder, { recursive: true, force: true })
    }
  })
})
