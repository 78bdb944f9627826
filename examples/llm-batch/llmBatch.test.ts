import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { killedAfterEach, runCli, runCliHere, startCli, tempDir } from '../../test/support/cli.ts'
import { answerFor, type FakeEndpoint, startFakeEndpoint } from './fake-endpoint.mjs'
import type { Answer, Prompt } from './job.ts'

const PROMPTS = 200
/** The run's pace and its commits: items in flight, calls per second, seconds between commits at the most. */
const CONCURRENCY = 16
const RATE_PER_S = 150
const CHECKPOINT_S = 0.4
/** Paid calls before the kill: more than the bound below, so a run that committed nothing before it would fail. */
const KILL_AFTER = 140

const children = killedAfterEach()
let endpoint: FakeEndpoint | undefined
afterEach(async () => {
  await endpoint?.close()
  endpoint = undefined
})

/** Polls until `ready()` holds (the endpoint's own counts, no sleeping on a guess). */
async function until(ready: () => boolean, what: string, timeoutMs = 60_000): Promise<void> {
  const started = Date.now()
  while (!ready()) {
    if (Date.now() - started > timeoutMs) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
}

/** The output's records, shard after shard in index order. */
function outputRecords(out: string): Answer[] {
  const data = join(out, 'data')
  const index = JSON.parse(readFileSync(join(data, 'index.json'), 'utf8')) as { shards: { files: string[] }[] }
  return index.shards.flatMap((shard) =>
    shard.files.flatMap((file) =>
      readFileSync(join(data, file), 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((line) => JSON.parse(line) as Answer),
    ),
  )
}

describe('job.ts', () => {
  it('errors say what to do: an endpoint that refuses the key fails the item naming OPENAI_API_KEY', async () => {
    endpoint = await startFakeEndpoint({ latencyMs: 0, key: 'sk-right' })
    // The job reads its environment as it loads, as each worker thread does.
    const before = {
      LONGHAUL_LLM_BASE_URL: process.env.LONGHAUL_LLM_BASE_URL,
      OPENAI_API_KEY: process.env.OPENAI_API_KEY,
    }
    Object.assign(process.env, { LONGHAUL_LLM_BASE_URL: endpoint.url, OPENAI_API_KEY: 'sk-wrong' })
    try {
      const { ask, params } = await import('./job.ts')
      const ctx = { index: 0, seed: 0, params: params.parse({}), fetch, take: async () => undefined }
      await expect(ask({ id: 'a', prompt: 'hello' }, ctx as never)).rejects.toThrow(
        /chat\/completions answered 401 \(check OPENAI_API_KEY\): .*Incorrect API key/,
      )
      expect(endpoint.totals().unauthorized).toBe(1)
    } finally {
      for (const [name, value] of Object.entries(before)) {
        if (value === undefined) delete process.env[name]
        else process.env[name] = value
      }
    }
  })
})

describe('examples/llm-batch against a local fake endpoint (latency, 429 + Retry-After, seeded 500s)', () => {
  it('no-loss, no-duplicates after SIGKILL: every prompt answered exactly once; paid calls repeated ≤ 2 × in flight + interval × rate', async () => {
    const dir = tempDir('longhaul-llm-batch-')
    const prompts: Prompt[] = Array.from({ length: PROMPTS }, (_, i) => ({
      id: `q${String(i).padStart(4, '0')}`,
      prompt: `Question ${i}: what is ${i} squared, in words?`,
    }))
    const promptsFile = join(dir, 'prompts.jsonl')
    writeFileSync(promptsFile, `${prompts.map((p) => JSON.stringify(p)).join('\n')}\n`)
    // The service allows 10 calls per 200 ms (50/s); the run asks for 150/s, so it is told "429, retry after" often.
    endpoint = await startFakeEndpoint({
      latencyMs: 20,
      limit: 10,
      windowMs: 200,
      failRate: 0.05,
      seed: 7,
      key: 'sk-test',
    })
    const env = { LONGHAUL_LLM_BASE_URL: endpoint.url, OPENAI_API_KEY: 'sk-test', LONGHAUL_LLM_PROMPTS: promptsFile }
    const out = join(dir, 'run')
    const args = [
      'run',
      'examples/llm-batch/job.ts',
      '--out',
      out,
      '--concurrency',
      String(CONCURRENCY),
      '--rate-limit',
      `${RATE_PER_S}/s`,
      '--checkpoint-every',
      String(CHECKPOINT_S),
    ]

    const first = startCli(args, env)
    children.push(first.child)
    const fake = endpoint
    await until(() => fake.totals().ok >= KILL_AFTER, `${KILL_AFTER} answered calls`)
    first.child.kill('SIGKILL')
    const killed = await first.done
    expect(killed.signal, killed.stderr).toBe('SIGKILL')
    const paidBeforeKill = endpoint.totals().ok

    const resumed = await runCli(args, env)
    expect(resumed.code, resumed.stderr).toBe(0)
    const verify = await runCliHere(['verify', out])
    expect(verify.code, verify.stdout + verify.stderr).toBe(0)

    // Each prompt once, in input order, with the endpoint's answer and usage for it.
    const records = outputRecords(out)
    expect(records.map((r) => r.id)).toEqual(prompts.map((p) => p.id))
    records.forEach((record, i) => {
      const { content, usage } = answerFor(prompts[i]!.prompt)
      expect(record).toMatchObject({ id: prompts[i]!.id, answer: content, usage })
    })
    // The run's token total counts each committed answer once, whatever the kill cut short.
    const progress = JSON.parse(readFileSync(join(out, 'progress.json'), 'utf8'))
    expect(progress.usage.tokens).toBe(records.reduce((sum, r) => sum + r.usage.total_tokens, 0))

    const totals = endpoint.totals()
    // Paid twice = answered 200 more than once: calls made before the kill whose items were not committed yet.
    const paidTwice = [...endpoint.answered.values()].reduce((sum, n) => sum + n - 1, 0)
    // What a kill can cost: the interval's calls at the rate, written and not committed, and the items started and not
    // written yet, of which a thread holds at most twice its share (those finished wait behind a slower one, a 500
    // backing off or a 429 waited out, to be written in index order).
    const bound = 2 * CONCURRENCY + RATE_PER_S * CHECKPOINT_S
    console.log(
      `llm-batch: ${paidBeforeKill} paid calls before the kill, ${paidTwice} made twice (bound ${bound}); ` +
        `${totals.requests} requests, ${totals.rateLimited} answered 429, ${totals.failed} answered 500`,
    )
    // The run met every kind of answer: rate limited (waited out, not counted as a failure), failed (retried), paid.
    expect(totals.rateLimited).toBeGreaterThan(0)
    expect(totals.failed).toBeGreaterThan(0)
    for (const p of prompts) expect(endpoint.answered.get(p.prompt) ?? 0, p.id).toBeGreaterThanOrEqual(1)
    expect(paidTwice).toBeLessThanOrEqual(bound)
    expect(totals.ok).toBe(PROMPTS + paidTwice)
  })
})
