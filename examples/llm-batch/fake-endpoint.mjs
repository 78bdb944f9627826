// A local stand-in for an OpenAI-compatible chat endpoint, for the example's test, the bench and a try without a key:
// `POST /chat/completions` answered after `latencyMs`; at most `limit` requests per fixed window of `windowMs` (windows
// aligned to the server's start), the rest answered 429 with `Retry-After` (the seconds to the next window, to the
// millisecond); a seeded share of the others answered 500; the rest answered 200 with an answer and a `usage` that are a
// function of the prompt alone. It counts every request it receives, and every one it answered 200 (a paid call),
// per prompt.
//
//   node examples/llm-batch/fake-endpoint.mjs [--port 8787] [--latency-ms 50] [--limit 50] [--window-ms 1000]
//                                             [--fail-rate 0.05] [--seed 1] [--key sk-local]
import { createHash } from 'node:crypto'
import { createServer } from 'node:http'
import { parseArgs } from 'node:util'

/** The answer to a prompt: the same text and usage whenever the same prompt is asked. */
export function answerFor(prompt) {
  const digest = createHash('sha256').update(prompt).digest('hex').slice(0, 12)
  const words = prompt.split(/\s+/).filter(Boolean)
  const content = `${words.length} words, ${prompt.length} characters; digest ${digest}.`
  const promptTokens = words.length + 8
  const completionTokens = content.split(/\s+/).length
  return {
    content,
    usage: {
      prompt_tokens: promptTokens,
      completion_tokens: completionTokens,
      total_tokens: promptTokens + completionTokens,
    },
  }
}

/** A number in [0, 1) from (seed, text): the same draw for the same request, whatever the order requests came in. */
function draw(seed, text) {
  return createHash('sha256').update(`${seed}\0${text}`).digest().readUInt32BE(0) / 2 ** 32
}

/**
 * Starts the endpoint on 127.0.0.1 (`port` 0: a free one). Resolves with its base URL (`…/v1`), the counts per prompt
 * (`received`: every request; `answered`: those answered 200), `totals()` and `close()`.
 */
export async function startFakeEndpoint({
  port = 0,
  latencyMs = 50,
  limit = Number.POSITIVE_INFINITY,
  windowMs = 1000,
  failRate = 0,
  seed = 1,
  key,
} = {}) {
  const received = new Map()
  const answered = new Map()
  const totals = { requests: 0, ok: 0, rateLimited: 0, failed: 0, unauthorized: 0 }
  const started = performance.now()
  let window = -1
  let inWindow = 0
  const server = createServer((request, response) => {
    const chunks = []
    request.on('data', (chunk) => chunks.push(chunk))
    request.on('end', () => {
      const reply = (status, body, headers = {}) => {
        const send = () => {
          response.writeHead(status, { 'content-type': 'application/json', ...headers })
          response.end(JSON.stringify(body))
        }
        if (status === 200) setTimeout(send, latencyMs)
        else send()
      }
      if (request.method !== 'POST' || !request.url?.endsWith('/chat/completions'))
        return reply(404, { error: { message: `no ${request.method} ${request.url}` } })
      totals.requests++
      if (key !== undefined && request.headers.authorization !== `Bearer ${key}`) {
        totals.unauthorized++
        return reply(401, { error: { message: 'Incorrect API key provided', type: 'invalid_request_error' } })
      }
      let body
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8'))
      } catch {
        return reply(400, { error: { message: 'the body is not JSON' } })
      }
      const prompt = body.messages?.findLast?.((m) => m.role === 'user')?.content
      if (typeof prompt !== 'string') return reply(400, { error: { message: 'no user message' } })
      const n = (received.get(prompt) ?? 0) + 1
      received.set(prompt, n)

      const now = performance.now() - started
      const w = Math.floor(now / windowMs)
      if (w !== window) [window, inWindow] = [w, 0]
      if (inWindow >= limit) {
        totals.rateLimited++
        // Seconds to the window's end, to the millisecond: a provider's are whole seconds, longhaul reads either.
        const retryAfterS = Math.ceil((w + 1) * windowMs - now) / 1000
        return reply(
          429,
          { error: { message: 'Rate limit reached', type: 'requests' } },
          {
            'retry-after': String(retryAfterS),
          },
        )
      }
      inWindow++
      if (draw(seed, `${prompt}\0${n}`) < failRate) {
        totals.failed++
        return reply(500, { error: { message: 'The server had an error while processing your request' } })
      }
      totals.ok++
      answered.set(prompt, (answered.get(prompt) ?? 0) + 1)
      const { content, usage } = answerFor(prompt)
      reply(200, {
        id: `chatcmpl-${totals.ok}`,
        object: 'chat.completion',
        created: Math.floor(Date.now() / 1000),
        model: body.model ?? 'fake',
        choices: [{ index: 0, message: { role: 'assistant', content }, finish_reason: 'stop' }],
        usage,
      })
    })
  })
  server.keepAliveTimeout = 60_000
  await new Promise((resolve) => server.listen(port, '127.0.0.1', resolve))
  return {
    url: `http://127.0.0.1:${server.address().port}/v1`,
    received,
    answered,
    totals: () => ({ ...totals }),
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({
    options: {
      port: { type: 'string', default: '8787' },
      'latency-ms': { type: 'string', default: '50' },
      limit: { type: 'string', default: '50' },
      'window-ms': { type: 'string', default: '1000' },
      'fail-rate': { type: 'string', default: '0.05' },
      seed: { type: 'string', default: '1' },
      key: { type: 'string' },
    },
  })
  const endpoint = await startFakeEndpoint({
    port: Number(values.port),
    latencyMs: Number(values['latency-ms']),
    limit: Number(values.limit),
    windowMs: Number(values['window-ms']),
    failRate: Number(values['fail-rate']),
    seed: Number(values.seed),
    key: values.key,
  })
  console.log(`fake chat endpoint at ${endpoint.url} (Ctrl-C stops it)`)
  process.on('SIGINT', async () => {
    await endpoint.close()
    console.log(JSON.stringify(endpoint.totals()))
    process.exit(0)
  })
}
