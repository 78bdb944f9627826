/**
 * The suite's own guard (test/support/tempGuard.ts, vitest's global setup): what a run of the suite leaves in its
 * temp folder fails it, named; a clean run passes, and tools' caches do not count.
 */
import { existsSync, mkdirSync, mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { setup } from '../support/tempGuard.ts'

describe('suite-leaves-tmp-as-found', () => {
  const outer = tmpdir()
  afterEach(() => {
    // The guard marks the process failed when it finds something: this process is not the suite.
    process.exitCode = undefined
  })

  it('a folder left in the temp folder fails the run, naming it; the guard removes its folder either way', () => {
    const teardown = setup()
    const folder = tmpdir()
    expect(folder).not.toBe(outer)
    const left = mkdtempSync(join(tmpdir(), 'longhaul-left-'))
    expect(() => teardown()).toThrow(new RegExp(`left 1 entry in the temp folder: ${left.split('/').at(-1)}`))
    expect(process.exitCode).toBe(1)
    expect(tmpdir()).toBe(outer)
    expect(existsSync(folder)).toBe(false)
  })

  it('a run that leaves nothing (but a tool cache) passes', () => {
    const teardown = setup()
    const folder = tmpdir()
    mkdirSync(join(folder, 'tsx-0'))
    expect(() => teardown()).not.toThrow()
    expect(process.exitCode).toBeUndefined()
    expect(existsSync(folder)).toBe(false)
  })
})
