import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { verifyRun } from '../../src/index.ts'
import { SqliteStore } from '../../src/journal/sqlite/sqliteStore.ts'
import { fixture, runCliHere, startCli, tempDir } from '../support/cli.ts'

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  it(`${signal} commits what is done, marks the run interrupted, exits 130, and the same command resumes`, async () => {
    const out = join(tempDir(), 'run')
    const args = [
      'run',
      fixture('squares.ts'),
      '--out',
      out,
      '--total',
      '3000',
      '--workers',
      '2',
      '--progress-every',
      '1',
    ]
    const { child, done } = startCli(args, { ITEM_MS: '2' })
    await new Promise<void>((resolve) =>
      child.stderr!.on('data', (chunk: Buffer) => / [1-9][\d,]*\/3,000/.test(chunk.toString()) && resolve()),
    )
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

    const resumed = await runCliHere([...args, '--json'])
    expect(resumed.code).toBe(0)
    expect(JSON.parse(resumed.stdout)).toMatchObject({
      state: 'complete',
      resumed: true,
      committedThisSession: 3000 - committed,
    })
    expect((await verifyRun(out)).complete).toBe(true)
  })
}

describe('second-interrupt-leaves-interrupted', () => {
  it('a second SIGINT stops at once (exit 130) and still leaves the journal and both progress files saying INTERRUPTED; the same command resumes', async () => {
    const out = join(tempDir(), 'run')
    const args = [
      'run',
      fixture('squares.ts'),
      '--out',
      out,
      '--total',
      '200',
      '--workers',
      '2',
      '--progress-every',
      '1',
    ]
    // Items of 3 s: the first SIGINT waits for the items in progress, and the second comes while it does.
    const { child, done } = startCli(args, { ITEM_MS: '3000' })
    let stderr = ''
    await new Promise<void>((resolve) =>
      child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()).includes('items →') && resolve()),
    )
    child.kill('SIGINT')
    await new Promise<void>((resolve) => child.stderr!.on('data', () => stderr.includes('SIGINT —') && resolve()))
    child.kill('SIGINT')
    const stopped = await done
    expect(stopped.code).toBe(130)
    expect(stopped.stderr).toContain('SIGINT again — stopping now')

    const store = SqliteStore.open(join(out, '.longhaul', 'journal.sqlite'))
    const run = await store.getRun()
    const events = await store.events()
    const owner = await store.getOwner()
    await store.close()
    expect(run?.state).toBe('interrupted')
    expect(events.at(-1)).toMatchObject({ type: 'interrupted', detail: { forced: true } })
    // Its lease was let go: the next command need not wait for it.
    expect(owner).toBeUndefined()
    expect(JSON.parse(readFileSync(join(out, 'progress.json'), 'utf8'))).toMatchObject({ state: 'interrupted' })
    expect(readFileSync(join(out, 'PROGRESS.txt'), 'utf8')).toMatch(/^INTERRUPTED/)

    // The same command at full speed, in this process (no process is at stake any more).
    const resumed = await runCliHere([...args, '--json'])
    expect(resumed.code).toBe(0)
    expect(JSON.parse(resumed.stdout)).toMatchObject({ state: 'complete', resumed: true })
    expect(await verifyRun(out)).toMatchObject({ complete: true, stray: [] })
  }, 60_000)
})
