// Prompts from a JSON Lines file, each sent to an OpenAI-compatible chat endpoint (POST {base}/chat/completions);
// the answers written as JSON Lines with the prompt's id, the answer's text and the usage the endpoint reported.
// Many calls in flight (`concurrency`), paced to the provider's limit (`rateLimit`); `ctx.fetch` turns a 429 (and a
// 503 with Retry-After) into a wait that does not use up the item's retries.
//
// From the environment (not part of the run's identity, so a key can be rotated mid-run):
//   LONGHAUL_LLM_BASE_URL  the API's base URL, up to /v1 (default https://api.openai.com/v1)
//   OPENAI_API_KEY         sent as `Authorization: Bearer …` when set (local servers often need none)
//   LONGHAUL_LLM_PROMPTS   the prompts file (default prompts.jsonl beside this file); its bytes are part of the
//                          run's identity, so a changed file is not resumed
import { defineJob, type ItemContext, jsonl, jsonlInput } from 'longhaul'
import { z } from 'zod'

/** One line of the prompts file. */
export interface Prompt {
  readonly id: string
  readonly prompt: string
  readonly system?: string
}

/** The `usage` object of an OpenAI-compatible chat completion. */
export interface Usage {
  readonly prompt_tokens: number
  readonly completion_tokens: number
  readonly total_tokens: number
}

/** One line of the output. */
export interface Answer {
  readonly id: string
  readonly answer: string
  readonly finishReason: string | null
  readonly model: string
  readonly usage: Usage
}

export const params = z.object({
  /** The model to ask. @default 'gpt-4o-mini' */
  model: z.string().min(1).default('gpt-4o-mini'),
  /** The most tokens an answer may have. @default 256 */
  maxTokens: z.number().int().positive().default(256),
  /** @default 0 */
  temperature: z.number().min(0).max(2).default(0),
})
export type Params = z.output<typeof params>

const BASE_URL = (process.env.LONGHAUL_LLM_BASE_URL ?? 'https://api.openai.com/v1').replace(/\/+$/, '')
const API_KEY = process.env.OPENAI_API_KEY
const PROMPTS = process.env.LONGHAUL_LLM_PROMPTS ?? new URL('./prompts.jsonl', import.meta.url)

const completion = z.object({
  model: z.string(),
  choices: z
    .array(z.object({ message: z.object({ content: z.string().nullable() }), finish_reason: z.string().nullable() }))
    .min(1),
  usage: z.object({
    prompt_tokens: z.number(),
    completion_tokens: z.number(),
    total_tokens: z.number(),
  }),
})

/** Asks the endpoint one prompt. A 429 throws RateLimitedError (from ctx.fetch); any other failure throws. */
export async function ask(record: Prompt, ctx: ItemContext<Params>): Promise<Answer> {
  const url = `${BASE_URL}/chat/completions`
  const messages = [
    ...(record.system ? [{ role: 'system', content: record.system }] : []),
    { role: 'user', content: record.prompt },
  ]
  const response = await ctx.fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(API_KEY ? { authorization: `Bearer ${API_KEY}` } : {}) },
    body: JSON.stringify({
      model: ctx.params.model,
      messages,
      max_tokens: ctx.params.maxTokens,
      temperature: ctx.params.temperature,
    }),
  })
  if (!response.ok) {
    const hint = response.status === 401 ? ' (check OPENAI_API_KEY)' : ''
    throw new Error(`POST ${url} answered ${response.status}${hint}: ${(await response.text()).slice(0, 300)}`)
  }
  const parsed = completion.safeParse(await response.json())
  if (!parsed.success)
    throw new Error(`POST ${url} answered 200 with no chat completion: ${z.prettifyError(parsed.error)}`)
  const { model, choices, usage } = parsed.data
  // Counted in the run's totals (progress.json, status, /metrics) once this item's range commits.
  ctx.usage({ tokens: usage.total_tokens })
  // Tokens count against the provider's per-minute limit once used: later calls wait for room.
  await ctx.take({ tokens: usage.total_tokens })
  return {
    id: record.id,
    answer: choices[0]!.message.content ?? '',
    finishReason: choices[0]!.finish_reason,
    model,
    usage,
  }
}

export default defineJob({
  name: 'llm-batch',
  params,
  input: jsonlInput<Prompt>(PROMPTS),
  output: jsonl(),
  item: ask,
  // The limits of the account, for the whole run: `run --rate-limit 500/min,tokens=200000/min` replaces them.
  rateLimit: { requests: 500, tokens: 200_000, per: 'minute' },
  concurrency: 32,
  // A 500 or a dropped connection is tried again; "rate limited" answers do not count against these.
  retries: 5,
  // Calls are paid for: commit at least every 10 s, so a crash repeats at most 10 s of calls (most ranges commit
  // sooner: they are sized to about 2 s of work).
  checkpointEvery: 10_000,
  validate(record: Answer) {
    if (typeof record.id !== 'string' || typeof record.answer !== 'string') return 'no id or no answer'
    if (!(record.usage?.total_tokens >= 0)) return `prompt ${record.id}: no usage`
    return true
  },
})
