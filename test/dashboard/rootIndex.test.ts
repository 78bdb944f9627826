import { join } from 'node:path'
import { expect, it, vi } from 'vitest'
import { RootIndex } from '../../src/dashboard/rootIndex.ts'
import { tempDir } from '../support/cli.ts'
import { forgedSnapshot, writeForgedRun } from '../support/forgedRun.ts'

// The dashboard's index of ROOT: a page opened for a run that has just appeared finds it, whenever the folders were
// last walked (a page used to say "cannot be shown" when asked within half a second of a walk).

it('a run written just after a walk of the folders is found by the next question for it', async () => {
  const root = tempDir('longhaul-root-index-')
  const index = new RootIndex(root)
  try {
    await index.ready
    const snapshot = forgedSnapshot({ job: 'fresh' })
    writeForgedRun(join(root, 'fresh'), snapshot)
    expect((await index.findNow(snapshot.runId))?.dir).toBe('fresh')
  } finally {
    index.close()
  }
})

it('a run written in the same millisecond as the walk before it is found by the next question for it (the clock held)', async () => {
  const root = tempDir('longhaul-root-index-')
  // Every reading of the clock in the same millisecond: the walk, the write and the question, as on a fast machine.
  const clock = vi.spyOn(Date, 'now').mockReturnValue(Date.now())
  const index = new RootIndex(root)
  try {
    await index.ready
    const snapshot = forgedSnapshot({ job: 'same-millisecond' })
    writeForgedRun(join(root, 'same-millisecond'), snapshot)
    expect((await index.findNow(snapshot.runId))?.dir).toBe('same-millisecond')
  } finally {
    index.close()
    clock.mockRestore()
  }
})
