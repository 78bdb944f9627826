import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { runPaths } from '../../src/files/runPaths.ts'
import { SqliteStore } from '../../src/journal/sqlite/sqliteStore.ts'
import { processAlive } from '../../src/telemetry/processAlive.ts'
import { ROOT, startCli, tempDir, waitFor } from '../support/cli.ts'

const COUNTER = join(ROOT, 'test/fixtures/exec/counter.py')

describe('second-interrupt-leaves-interrupted (exec)', () => {
  it('a second SIGTERM stops longhaul exec at once (exit 130): the program is killed, and the journal and both progress files say INTERRUPTED, the lease let go', async () => {
    const dir = tempDir()
    const out = join(dir, 'run')
    // The program ignores SIGTERM and the grace period is long: the first SIGTERM waits for it, the second comes meanwhile.
    const run = startCli([
      'exec',
      '--out',
      out,
      '--grace',
      '60',
      '--',
      'python3',
      COUNTER,
      '--steps',
      '2000',
      '--delay',
      '0.05',
      '--ignore-term',
      '--ckpt-dir',
      join(dir, 'ckpt'),
    ])
    let stderr = ''
    run.child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
    const pid = await waitFor('the program to report progress', async () => {
      const file = join(out, 'progress.json')
      if (!existsSync(file) || (JSON.parse(readFileSync(file, 'utf8')) as { done: number }).done === 0) return undefined
      return await programPid(out)
    })
    try {
      run.child.kill('SIGTERM')
      await waitFor('the first SIGTERM to be said', () => (stderr.includes('SIGTERM —') ? true : undefined))
      run.child.kill('SIGTERM')
      const stopped = await run.done
      expect(stopped.code).toBe(130)
      expect(stopped.stderr).toContain('SIGTERM again — stopping now')
      await waitFor('the program to be gone', () => (processAlive(pid) ? undefined : true), 10_000)
    } finally {
      // On failure too: a program that ignores SIGTERM is not left running.
      if (processAlive(pid)) process.kill(-pid, 'SIGKILL')
    }

    const store = SqliteStore.open(runPaths(out).journal, { readonly: true })
    const [record, events, owner] = await Promise.all([store.getRun(), store.events(), store.getOwner()])
    await store.close()
    expect(record?.state).toBe('interrupted')
    expect(events.at(-1)).toMatchObject({ type: 'interrupted', detail: { forced: true, exitCode: 130 } })
    // Its lease was let go: the next command need not wait for it.
    expect(owner).toBeUndefined()
    expect(JSON.parse(readFileSync(join(out, 'progress.json'), 'utf8'))).toMatchObject({ state: 'interrupted' })
    expect(readFileSync(join(out, 'PROGRESS.txt'), 'utf8')).toMatch(/^INTERRUPTED/)
  })
})

/** The pid of the program's first life, as the journal records it. */
async function programPid(dir: string): Promise<number | undefined> {
  const store = SqliteStore.open(runPaths(dir).journal, { readonly: true })
  try {
    return (await store.events()).find((e) => e.type === 'program-started')?.detail.pid as number | undefined
  } finally {
    await store.close()
  }
}
