import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, expect, it } from 'vitest'
import { runMapJob, verifyRun } from '../../../src/index.ts'
import { parseRateLimit } from '../../../src/job/rateLimit.ts'
import { fixture, tempDir } from '../../support/cli.ts'
import { startCountingServer } from '../../support/countingServer.mjs'
import { expectBothWorkersHeld, refuseOnceBothWorkersCalled } from '../../support/retryAfter.ts'

type Server = Awaited<ReturnType<typeof startCountingServer>>
const servers: Server[] = []
afterEach(async () => {
  for (const server of servers.splice(0)) await server.close()
  delete process.env.CALLS_URL
  delete process.env.TOKENS_PER_CALL
})

async function serve(answer?: Parameters<typeof startCountingServer>[0]): Promise<Server> {
  const server = await startCountingServer(answer)
  servers.push(server)
  process.env.CALLS_URL = server.url
  return server
}

const progressOf = (dir: string) => JSON.parse(readFileSync(join(dir, 'progress.json'), 'utf8'))

it('rate-limit compliance: no window over the limit at a local server that counts requests per window', async () => {
  const server = await serve()
  const outDir = join(tempDir(), 'run')
  const summary = await runMapJob({
    jobPath: fixture('calls.ts'),
    outDir,
    total: 70,
    workers: 2,
    rateLimit: parseRateLimit('20/s'),
  })
  expect(summary).toMatchObject({ state: 'complete', committed: 70 })
  expect(server.arrivals).toHaveLength(70)
  // At most 20 in every second the server counts, and in any second at all.
  expect(Math.max(...server.windows(1000))).toBeLessThanOrEqual(20)
  expect(server.busiestWindow(1000)).toBeLessThanOrEqual(20)
  // Paced, not starved: 70 calls at 20/s take at least 3.45 s, and at most the 15% room for late calls more, plus slack.
  const span = server.arrivals.at(-1)!.at - server.arrivals[0]!.at
  expect(span).toBeGreaterThanOrEqual((69 / 20) * 1000)
  expect(span).toBeLessThan((69 / 20) * 1000 * 1.3)
  expect(progressOf(outDir).rateLimit).toMatchObject({ limit: '20 requests/s', rateLimitedAnswers: 0 })
  expect(progressOf(outDir).rateLimit.waitingSeconds).toBeGreaterThan(0)
  expect(readFileSync(join(outDir, 'PROGRESS.txt'), 'utf8')).toMatch(
    /^Rate limit: +20 requests\/s; items waited \d+s on it$/m,
  )
})

it('rate-limit compliance for a counted unit: the tokens items take stay within their limit in every window', async () => {
  const server = await serve()
  process.env.TOKENS_PER_CALL = '25'
  const outDir = join(tempDir(), 'run')
  // 200 tokens/s at 25 a call: at most 8 calls in any second; requests alone would allow 100.
  const rateLimit = parseRateLimit('100/s,tokens=200/s')
  // 17 calls: more than two seconds' worth, so that some second could hold more than 8.
  const summary = await runMapJob({ jobPath: fixture('calls.ts'), outDir, total: 17, workers: 2, rateLimit })
  expect(summary).toMatchObject({ state: 'complete', committed: 17 })
  expect(server.busiestWindow(1000)).toBeLessThanOrEqual(8)
  expect(progressOf(outDir).rateLimit.limit).toBe('100 requests/s, 200 tokens/s')
})

it('Retry-After honoured by every thread: once one call is answered 429 with Retry-After: 1, no call of any thread reaches the service in the second after that answer, and the wait is shown', async () => {
  // The service, and what the test checks: test/support/retryAfter.ts.
  const refusal = refuseOnceBothWorkersCalled(() => server.arrivals)
  const server: Server = await serve(refusal.answer)
  const outDir = join(tempDir(), 'run')
  const rateLimit = parseRateLimit('3/s')
  const summary = await runMapJob({ jobPath: fixture('calls.ts'), outDir, total: 8, workers: 2, rateLimit })
  expect(summary).toMatchObject({ state: 'complete', committed: 8 })
  expectBothWorkersHeld(server.arrivals, refusal.refused)
  expect(progressOf(outDir).rateLimit).toMatchObject({ limit: '3 requests/s', rateLimitedAnswers: 1 })
  expect(progressOf(outDir).rateLimit.waitingSeconds).toBeGreaterThanOrEqual(1)
  expect(await verifyRun(outDir)).toMatchObject({ complete: true, items: 8, missing: 0, duplicates: 0, corrupt: 0 })
})

it('backoff does not consume item retries: with retries 0, an item answered 429 three times still completes', async () => {
  let refused = 0
  const server = await serve((request) =>
    request.url === '/item/0' && refused++ < 3 ? { status: 429, headers: { 'retry-after': '0' } } : { status: 200 },
  )
  const outDir = join(tempDir(), 'run')
  const summary = await runMapJob({ jobPath: fixture('calls.ts'), outDir, total: 5, workers: 1 })
  expect(summary).toMatchObject({ state: 'complete', committed: 5 })
  expect(server.arrivals.filter((a) => a.path === '/item/0')).toHaveLength(4)
  expect(progressOf(outDir).rateLimit.rateLimitedAnswers).toBe(3)
})
