import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { PassThrough } from 'node:stream'
import { describe, expect, it } from 'vitest'
import { LeaseLostError } from '../../src/errors.ts'
import { runPaths } from '../../src/files/runPaths.ts'
import { SqliteStore } from '../../src/journal/sqlite/sqliteStore.ts'
import type { RunEvent } from '../../src/journal/store.ts'
import { processAlive } from '../../src/telemetry/processAlive.ts'
import { superviseProgram } from '../../src/work/exec/supervise.ts'
import { ROOT, tempDir, waitFor } from '../support/cli.ts'

const COUNTER = join(ROOT, 'test/fixtures/exec/counter.py')

describe('fenced-output (exec)', () => {
  it('a supervisor whose lease another process took stops its program, fails with LeaseLostError and writes no end to the run', async () => {
    const dir = tempDir()
    const out = join(dir, 'run')
    const sink = new PassThrough()
    sink.resume()
    const notes: string[] = []
    const outcome = superviseProgram({
      command: 'python3',
      args: [COUNTER, '--steps', '2000', '--delay', '0.05', '--ckpt-dir', join(dir, 'ckpt')],
      outDir: out,
      heartbeatMs: 200,
      progressEveryMs: 200,
      graceMs: 1_000,
      stdout: sink,
      stderr: sink,
      observer: { note: (message) => notes.push(message) },
    }).then(
      () => undefined,
      (error: unknown) => error,
    )
    let pid: number | undefined
    const store = await waitFor('the program to report progress', async () => {
      const file = join(out, 'progress.json')
      if (!existsSync(file) || (JSON.parse(readFileSync(file, 'utf8')) as { done: number }).done === 0) return undefined
      return SqliteStore.open(runPaths(out).journal)
    })
    try {
      pid = (await store.events()).find((e) => e.type === 'program-started')?.detail.pid as number
      // Another process takes the run over (as one does after this one was held up past its lease).
      const holder = (await store.getOwner())!
      const taken = await store.acquireOwner({ pid: process.pid, host: 'elsewhere' }, 60_000, Date.now(), holder.token)
      expect('lease' in taken).toBe(true)
      const takenAt = Date.now()
      const error = await outcome
      expect(error).toBeInstanceOf(LeaseLostError)
      expect(processAlive(pid)).toBe(false)
      // The run is the other process's: no end of this session is written over it.
      const after = (await store.events()).filter((e: RunEvent) => e.at >= takenAt).map((e) => e.type)
      expect(after).not.toContain('failed')
      expect(after).not.toContain('interrupted')
      expect(after).not.toContain('program-exited')
      expect((await store.getRun())?.state).toBe('running')
      expect((await store.getOwner())?.host).toBe('elsewhere')
      expect(JSON.parse(readFileSync(join(out, 'progress.json'), 'utf8'))).toMatchObject({ state: 'running' })
    } finally {
      await store.close()
      // On failure too: no program left running.
      if (pid !== undefined && processAlive(pid)) process.kill(-pid, 'SIGKILL')
      await outcome
    }
  })
})
