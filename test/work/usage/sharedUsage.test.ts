/**
 * A shared run's progress files speak of the run's usage, not of the owner's own: what every process's committed
 * ranges reported (`ctx.usage`), read from the journal, with its rates. Proved with an owner and a worker, real
 * processes on a real PostgreSQL: the owner makes few items, the worker most of them.
 */
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { expect, it } from 'vitest'
import { fixture, killedAfterEach, runCliHere, tempDir, waitFor } from '../../support/cli.ts'
import { usePostgres } from '../../support/postgres.ts'
import { type SharedRunSpec, startSharedOwner, startSharedWorker, summaryOf } from '../../support/sharedProcesses.ts'

const database = usePostgres()
const started = killedAfterEach()
const TOTAL = 3_000
/** What paid.ts reports for item i: 100 + i % 17 tokens. */
const tokensOf = (i: number): number => 100 + (i % 17)

interface Progress {
  state: string
  done: number
  elapsedSeconds: number
  itemsPerSecond: number | null
  usage?: { tokens: number; usd: number }
  usagePerItem?: { tokens: number }
  usagePerSecond?: { tokens: number }
}

/** Sums the tokens of the records in the shared folder: what every item reported. */
function tokensInOutput(out: string): { items: number; tokens: number } {
  const sum = { items: 0, tokens: 0 }
  for (const name of readdirSync(join(out, 'data')).filter((n) => n.endsWith('.jsonl')))
    for (const line of readFileSync(join(out, 'data', name), 'utf8')
      .split('\n')
      .filter(Boolean)) {
      sum.items++
      sum.tokens += (JSON.parse(line) as { tokens: number }).tokens
    }
  return sum
}

it("usage totals of a shared run: the owner's progress.json, PROGRESS.txt and status show every process's usage and the run's rates, from the journal", async () => {
  const base = {
    job: fixture('paid.ts'),
    url: await database().createDatabase(),
    out: join(tempDir(), 'run'),
    flags: ['--workers', '1', '--lease-ttl', '2'],
    started,
  }
  // The owner makes one item at a time, each 200 ms, and commits only every 30 s; the worker makes 8 at a time.
  const owner = await startSharedOwner({ ...base, env: { ITEM_MS: '200' } } satisfies SharedRunSpec, TOTAL, [
    '--concurrency',
    '1',
    '--checkpoint-every',
    '30',
  ])
  const worker = startSharedWorker({ ...base, env: { ITEM_MS: '20' } }, owner.runId, ['--concurrency', '8'])
  const progress = (): Progress | undefined => {
    try {
      return JSON.parse(readFileSync(join(base.out, 'progress.json'), 'utf8'))
    } catch {
      return undefined
    }
  }
  // While the run goes on, the owner's files count the worker's commits too, in its totals and in its rate: more
  // than the owner alone could make (5 items a second).
  const running = await waitFor('the owner to show the run’s usage and rate', () => {
    const p = progress()
    return p?.state === 'running' && (p.usage?.tokens ?? 0) >= 300 * 100 && (p.itemsPerSecond ?? 0) > 20 ? p : undefined
  })
  expect(running.usagePerItem!.tokens).toBeGreaterThanOrEqual(100)
  expect(running.usagePerItem!.tokens).toBeLessThan(117)

  const ownerSummary = summaryOf(await owner.done)
  const workerSummary = summaryOf(await worker.done)
  expect(ownerSummary.state).toBe('complete')
  expect(workerSummary.committedThisSession).toBeGreaterThan(ownerSummary.committedThisSession)

  const output = tokensInOutput(base.out)
  expect(output.items).toBe(TOTAL)
  expect(output.tokens).toBe(Array.from({ length: TOTAL }, (_, i) => tokensOf(i)).reduce((a, b) => a + b, 0))
  const final = progress()!
  expect(final).toMatchObject({ state: 'complete', done: TOTAL })
  expect(final.usage!.tokens).toBe(output.tokens)
  expect(final.usagePerItem!.tokens).toBeCloseTo(output.tokens / TOTAL, 9)
  // The rate is the run's: everything was committed during the owner's session, so rate × elapsed is the total.
  expect(final.usagePerSecond!.tokens * final.elapsedSeconds).toBeCloseTo(output.tokens, -1)
  expect(readFileSync(join(base.out, 'PROGRESS.txt'), 'utf8')).toMatch(
    new RegExp(`^Usage: +${output.tokens.toLocaleString('en-US')} tokens, \\$`, 'm'),
  )
  const status = await runCliHere(['status', base.out, '--json'])
  expect(status.code, status.stderr).toBe(0)
  const [shown] = JSON.parse(status.stdout) as Progress[]
  expect(shown!.usage!.tokens).toBe(output.tokens)
}, 180_000)
