// A local HTTP server on 127.0.0.1 that records when each request arrives (for rate-limit tests and the bench):
// `answer(request, n)` says what to answer the n-th request (0-based), by default 200 with a short JSON body.
import { createServer } from 'node:http'

/**
 * Starts the server; resolves with its URL, the arrivals (ms on performance.now()'s clock, with the request's path and
 * its x-worker header: which worker made it, when the caller says),
 * `windows(ms)` (how many requests arrived in each fixed window of `ms`, windows aligned to the server's start) and
 * `close()`.
 */
export async function startCountingServer(answer = () => ({ status: 200 })) {
  const arrivals = []
  const started = performance.now()
  const server = createServer((request, response) => {
    const n = arrivals.length
    arrivals.push({ at: performance.now() - started, path: request.url ?? '', worker: request.headers['x-worker'] })
    const { status, headers = {}, body = JSON.stringify({ n }) } = answer(request, n)
    response.writeHead(status, { 'content-type': 'application/json', ...headers })
    response.end(body)
  })
  server.keepAliveTimeout = 60_000
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address()
  return {
    url: `http://127.0.0.1:${port}`,
    arrivals,
    /** Now, on the arrivals' clock (ms since the server started). */
    now: () => performance.now() - started,
    /** Requests per fixed window of `ms`, from the server's start to the last arrival. */
    windows(ms) {
      const counts = []
      for (const { at } of arrivals) {
        const w = Math.floor(at / ms)
        while (counts.length <= w) counts.push(0)
        counts[w]++
      }
      return counts
    },
    /** The most requests that arrived within any `ms` (a sliding window). */
    busiestWindow(ms) {
      const times = arrivals.map((a) => a.at).sort((a, b) => a - b)
      let most = 0
      for (let i = 0, j = 0; i < times.length; i++) {
        while (times[i] - times[j] >= ms) j++
        most = Math.max(most, i - j + 1)
      }
      return most
    },
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}
