import { setTimeout as sleep } from 'node:timers/promises'
import { describe, expect, it } from 'vitest'
import { StoreUnavailableError } from '../../src/errors.ts'
import { OutageRetry } from '../../src/journal/postgres/outage.ts'

describe('one-owner through a pause: a journal call held up is asked again, not given up on', () => {
  it('a call whose attempt was paused longer than the wait (SIGSTOP mid-transaction) is still tried again after it fails', async () => {
    const retry = new OutageRetry(200, undefined)
    let attempts = 0
    const answer = await retry.call(async () => {
      attempts++
      if (attempts === 1) {
        // Held up for longer than the whole wait, then told its connection is gone.
        await sleep(400)
        throw new StoreUnavailableError('Connection terminated')
      }
      return 'asked again'
    })
    expect(answer).toBe('asked again')
    expect(attempts).toBe(2)
  })

  it('a server that keeps failing is given up on once the wait has passed since the first failure', async () => {
    const retry = new OutageRetry(300, undefined)
    const started = Date.now()
    await expect(
      retry.call(async () => {
        throw new StoreUnavailableError('connect ECONNREFUSED')
      }),
    ).rejects.toThrow(/Tried again for 0\.\d s/)
    expect(Date.now() - started).toBeGreaterThanOrEqual(300)
  })
})
