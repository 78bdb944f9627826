import { join } from 'node:path'
import { expect, it } from 'vitest'
import { verifyRun } from '../../src/index.ts'
import { SqliteStore } from '../../src/store/sqlite/sqliteStore.ts'
import { fixture, runCli, startCli, tempDir } from '../support/cli.ts'

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  it(`${signal} commits what is done, marks the run interrupted, exits 130, and the same command resumes`, async () => {
    const out = join(tempDir(), 'run')
    const args = ['run', fixture('squares.ts'), '--out', out, '--total', '3000', '--workers', '2', '--progress-every', '1']
    const { child, done } = startCli(args, { ITEM_MS: '2' })
    await new Promise<void>((resolve) => child.stderr!.on('data', (chunk: Buffer) => / [1-9][\d,]*\/3,000/.test(chunk.toString()) && resolve()))
    child.kill(signal)
    const stopped = await done
    expect(stopped.code).toBe(130)
    expect(stopped.stdout).toMatch(/^INTERRUPTED/)

    const store = SqliteStore.open(join(out, '.longhaul', 'journal.sqlite'))
    const run = await store.getRun()
    const committed = await store.committedItems()
    const events = (await store.events()).map((e) => e.type)
    await store.close()
    expect(run?.state).toBe('interrupted')
    expect(events.at(-1)).toBe('interrupted')
    expect(committed).toBeGreaterThan(0)
    expect(committed).toBeLessThan(3000)

    const resumed = await runCli([...args, '--json'])
    expect(resumed.code).toBe(0)
    expect(JSON.parse(resumed.stdout)).toMatchObject({ state: 'complete', resumed: true, committedThisSession: 3000 - committed })
    expect((await verifyRun(out)).complete).toBe(true)
  })
}
