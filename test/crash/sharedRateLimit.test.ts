/**
 * A shared run's rate limit, proved with real processes on a real PostgreSQL: an owner and two workers, each given
 * the run's --rate-limit, call a local server that counts the requests in every window. Together they never go over
 * the limit, also while they join; and when one dies (SIGKILL), the others take its share once its claims expire.
 */
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { afterEach, expect, it } from 'vitest'
import { fixture, killedAfterEach, tempDir } from '../support/cli.ts'
import { startCountingServer } from '../support/countingServer.mjs'
import { usePostgres } from '../support/postgres.ts'
import {
  holdsClaim,
  type SharedRunSpec,
  startSharedOwner,
  startSharedWorker,
  summaryOf,
} from '../support/sharedProcesses.ts'

const database = usePostgres()
const started = killedAfterEach()
const servers: Awaited<ReturnType<typeof startCountingServer>>[] = []
afterEach(async () => {
  for (const server of servers.splice(0)) await server.close()
})

/** The run's limit: 40 a second, divided across its live processes. */
const LIMIT = 40
/**
 * Enough calls for the run to outlast the kill by the TTL, two heartbeats and the slack below (about 240 are made
 * before the kill at load 13, 11 s of work left after it): the limit, not the count, sets how long the test takes.
 */
const TOTAL = 600
/** A dead process's claims expire after 2 s; every process reads who is at work each heartbeat (2 s / 3). */
const TTL_S = 2
const HEARTBEAT_MS = (TTL_S * 1000) / 3

it('rate-limit compliance across processes: an owner and two workers never go over the run limit in any second (50 ms given to the calls of a process held up to arrive), and a SIGKILLed process’s share goes back to the others within the lease TTL and two heartbeats (and 3 s of slack for a loaded machine)', async () => {
  const server = await startCountingServer()
  servers.push(server)
  const spec: SharedRunSpec = {
    job: fixture('calls.ts'),
    url: await database().createDatabase(),
    out: join(tempDir(), 'run'),
    flags: ['--workers', '1', '--concurrency', '4', '--lease-ttl', String(TTL_S), '--rate-limit', `${LIMIT}/s`],
    env: { CALLS_URL: server.url },
    started,
  }
  const owner = await startSharedOwner(spec, TOTAL, ['--checkpoint-every', '0.5'])
  const workers = [startSharedWorker(spec, owner.runId), startSharedWorker(spec, owner.runId)]
  for (const [i, p] of [owner, ...workers].entries())
    await holdsClaim(spec.url, owner.runId, p.child.pid!, `process ${i}`)
  // Every process has read the others at least once: three share the limit from here.
  const allIn = server.now() + 2 * HEARTBEAT_MS
  await sleep(2 * HEARTBEAT_MS + 3000)
  const killedAt = server.now()
  const victim = workers[1]!
  victim.child.kill('SIGKILL')
  expect((await victim.done).signal).toBe('SIGKILL')
  const results = await Promise.all([owner.done, workers[0]!.done])
  const [ownerSummary, survivorSummary] = results.map(summaryOf)
  expect(ownerSummary).toMatchObject({ state: 'complete' })
  expect(survivorSummary!.digest).toBe(ownerSummary!.digest)

  // Each item called at least once (those the dead worker had in flight again by another).
  const called = new Set(server.arrivals.map((a) => a.path))
  expect(called.size).toBe(TOTAL)
  {
    // Where the busiest second was, against the joins and the kill (printed before judging it).
    const t0 = server.arrivals[0]!.at
    let at = 0
    let most = 0
    for (const a of server.arrivals) {
      const n = server.arrivals.filter((b) => b.at >= a.at && b.at < a.at + 1000).length
      if (n > most) [most, at] = [n, a.at]
    }
    const who = server.arrivals.filter((b) => b.at >= at && b.at < at + 1000).map((b) => Math.round(b.at - t0))
    console.log(JSON.stringify({ busiestAt: at - t0, allIn: allIn - t0, killedAt: killedAt - t0, most, who }))
  }
  // Never over the limit: in every second the server counts, and in any second at all.
  expect(Math.max(...server.windows(1000))).toBeLessThanOrEqual(LIMIT)
  // Any second at all, less the 50 ms a call scheduled on time may take to arrive when a process was held up: calls
  // whose times came while a loaded machine had their process off the CPU all leave on its return (41 arrivals within
  // 994 ms seen once, 39 within 950 ms of the same burst).
  expect(server.busiestWindow(950)).toBeLessThanOrEqual(LIMIT)

  const between = (from: number, to: number): number => server.arrivals.filter((a) => a.at >= from && a.at < to).length
  // Three processes at work take most of the limit together (the pacer keeps 15% at 40/s for late calls).
  const threeRate = (between(allIn, killedAt) * 1000) / (killedAt - allIn)
  expect(threeRate).toBeGreaterThan(0.6 * LIMIT)
  // The two left take the whole limit back: within the TTL, two heartbeats and three seconds' slack of the kill (a
  // loaded machine's processes are late to their heartbeats: 4.9 s seen at load 5-7 while a test suite ran beside),
  // some second holds more calls than two processes at a third of the limit each make (2 × 12 spaced evenly; 26 seen
  // with calls bunched on a loaded machine), short of the 34 two processes at half of it make.
  const bound = TTL_S * 1000 + 2 * HEARTBEAT_MS + 3000
  let busiest = 0
  for (const arrival of server.arrivals)
    if (arrival.at > killedAt && arrival.at < killedAt + bound)
      busiest = Math.max(busiest, between(arrival.at, arrival.at + 1000))
  console.log(
    JSON.stringify({
      w: server.windows(1000),
      allIn,
      killedAt,
      threeRate,
      busiest,
      busiestAll: server.busiestWindow(1000),
      calls: server.arrivals.length,
    }),
  )
  const lastAt = server.arrivals.at(-1)!.at
  expect(
    busiest,
    `the busiest second after the kill (three shared at ${threeRate.toFixed(1)}/s; the last call ${Math.round(lastAt - killedAt)} ms after the kill)`,
  ).toBeGreaterThan(29)
}, 120_000)
