import { describe, expect, it } from 'vitest'
import { Teardown } from '../../src/run/teardown.ts'

describe('teardown', () => {
  it('lifo-teardown: steps run in reverse order of set-up, every one of them, and the first error is kept', async () => {
    const ran: string[] = []
    const teardown = new Teardown()
    teardown.defer(() => ran.push('journal closed'))
    teardown.defer(async () => {
      ran.push('lease released')
      throw new Error('second failure')
    })
    teardown.defer(() => {
      ran.push('thread ended')
      throw new Error('first failure')
    })
    await expect(teardown.close()).rejects.toThrow('first failure')
    expect(ran).toEqual(['thread ended', 'lease released', 'journal closed'])
  })

  it('lifo-teardown: each step runs once, however often close is called', async () => {
    let closes = 0
    const teardown = new Teardown()
    teardown.defer(() => closes++)
    await teardown.close()
    await teardown.close()
    expect(closes).toBe(1)
  })
})
