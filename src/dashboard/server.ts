import { randomBytes, timingSafeEqual } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import type { AddressInfo } from 'node:net'
import { fileURLToPath } from 'node:url'
import { type ServerType, serve } from '@hono/node-server'
import { type Context, Hono } from 'hono'
import { getCookie, setCookie } from 'hono/cookie'
import { streamSSE } from 'hono/streaming'
import { RunFeed } from './feed.ts'
import { prometheusText } from './metrics.ts'
import { findRun, listRuns, RUN_ID, runDetail } from './runs.ts'

export interface DashboardOptions {
  /** Every run under this folder is shown. */
  readonly root: string
  /** @default 8080; 0 picks a free port */
  readonly port?: number
  /** @default 127.0.0.1 — any other address requires a token */
  readonly host?: string
  /** Required on every request when set; generated when the host is not loopback and none is given. */
  readonly token?: string
  /** Serve /metrics without the token (the rest still needs it). */
  readonly metricsPublic?: boolean
  /** Live-update connections open at once; past it, 503. @default 256 */
  readonly maxStreams?: number
}

export interface Dashboard {
  /** Where the page is, with the token when there is one. */
  readonly url: string
  readonly token: string | undefined
  close(): Promise<void>
}

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '::1'])
const COOKIE = 'longhaul_token'

const require = createRequire(import.meta.url)
const STATIC_DIR = new URL('./static/', import.meta.url)
/** Every file the server will ever send, by URL path: nothing else is read from disk (no path traversal). */
const STATIC_FILES: Readonly<Record<string, { path: string; type: string }>> = {
  '/static/app.js': { path: fileURLToPath(new URL('app.js', STATIC_DIR)), type: 'text/javascript; charset=utf-8' },
  '/static/style.css': { path: fileURLToPath(new URL('style.css', STATIC_DIR)), type: 'text/css; charset=utf-8' },
  '/static/uPlot.iife.min.js': {
    path: require.resolve('uplot/dist/uPlot.iife.min.js'),
    type: 'text/javascript; charset=utf-8',
  },
  '/static/uPlot.min.css': { path: require.resolve('uplot/dist/uPlot.min.css'), type: 'text/css; charset=utf-8' },
}
const INDEX = fileURLToPath(new URL('index.html', STATIC_DIR))

/**
 * The dashboard's HTTP app (DESIGN §2 `serve`): the page, its JSON API, live
 * updates over server-sent events and /metrics. Read-only: nothing here
 * changes a run.
 */
export function dashboardApp(options: DashboardOptions & { readonly feed: RunFeed }): Hono {
  const { root, token, feed } = options
  const maxStreams = options.maxStreams ?? 256
  const app = new Hono()

  app.use('*', async (c, next) => {
    c.header('X-Content-Type-Options', 'nosniff')
    c.header('Referrer-Policy', 'no-referrer')
    c.header(
      'Content-Security-Policy',
      "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'",
    )
    if (!token || (options.metricsPublic && c.req.path === '/metrics')) return next()
    const given =
      c.req.header('authorization')?.replace(/^Bearer\s+/i, '') ?? getCookie(c, COOKIE) ?? c.req.query('token')
    if (!given || !sameSecret(given, token)) {
      return c.text(
        '401 unauthorized: this dashboard needs its token. Open the URL printed when `longhaul serve` started (…?token=…), or send "Authorization: Bearer <token>".\n',
        401,
      )
    }
    // A page opened with ?token= keeps it in a cookie, so the page's own requests and live updates carry it.
    if (c.req.query('token')) setCookie(c, COOKIE, token, { httpOnly: true, sameSite: 'Strict', path: '/' })
    return next()
  })

  const page = (c: Context) => c.html(readFileSync(INDEX, 'utf8'))
  app.get('/', page)
  app.get('/runs/:id', (c) => (RUN_ID.test(c.req.param('id')) ? page(c) : c.text('404 no such run\n', 404)))
  for (const [path, file] of Object.entries(STATIC_FILES)) {
    app.get(path, (c) => {
      c.header('Content-Type', file.type)
      c.header('Cache-Control', 'no-cache')
      return c.body(readFileSync(file.path))
    })
  }

  app.get('/api/runs', async (c) => c.json({ runs: await listRuns(root, Date.now()) }))
  app.get('/api/runs/:id', async (c) => {
    const run = await findRun(root, c.req.param('id'), Date.now())
    if (!run) return c.json({ error: 'no such run' }, 404)
    return c.json(await runDetail(root, run))
  })
  app.get('/api/runs/:id/events', async (c) => {
    const id = c.req.param('id')
    const run = await findRun(root, id, Date.now())
    if (!run) return c.json({ error: 'no such run' }, 404)
    if (feed.clients >= maxStreams) {
      return c.json({ error: `too many live connections (${maxStreams}); close some pages or try again shortly` }, 503)
    }
    return streamSSE(c, async (stream) => {
      let sequence = 0
      const unsubscribe = feed.subscribe(id, run.dir, (item) => {
        // A page that has gone away is noticed by onAbort; a failed write is not an error of the server.
        stream.writeSSE({ event: 'status', id: String(++sequence), data: JSON.stringify(item) }).catch(() => undefined)
      })
      await new Promise<void>((resolve) => stream.onAbort(resolve))
      unsubscribe()
    })
  })
  app.get('/metrics', async (c) => {
    c.header('Content-Type', 'text/plain; version=0.0.4; charset=utf-8')
    return c.body(prometheusText(await listRuns(root, Date.now())))
  })

  app.notFound((c) => c.text('404 not found\n', 404))
  // Never a stack trace to a client; the server's own stderr gets it.
  app.onError((error, c) => {
    process.stderr.write(`longhaul serve: ${error.stack ?? error.message}\n`)
    return c.text('500 internal error\n', 500)
  })
  return app
}

/** Starts the dashboard; resolves once it listens. */
export async function startDashboard(options: DashboardOptions): Promise<Dashboard> {
  const host = options.host ?? '127.0.0.1'
  const token = options.token ?? (LOOPBACK.has(host) ? undefined : randomBytes(18).toString('base64url'))
  const feed = new RunFeed(options.root)
  const app = dashboardApp({ ...options, token, feed })
  const server = await new Promise<ServerType>((resolve, reject) => {
    const created = serve({ fetch: app.fetch, port: options.port ?? 8080, hostname: host }, () => resolve(created))
    created.once('error', reject)
  })
  const { port } = server.address() as AddressInfo
  const shownHost = host.includes(':') ? `[${host}]` : host === '0.0.0.0' ? '127.0.0.1' : host
  return {
    url: `http://${shownHost}:${port}/${token ? `?token=${token}` : ''}`,
    token,
    close: () =>
      new Promise<void>((resolve) => {
        feed.close()
        server.close(() => resolve())
        ;(server as { closeAllConnections?: () => void }).closeAllConnections?.()
      }),
  }
}

function sameSecret(given: string, expected: string): boolean {
  const a = Buffer.from(given)
  const b = Buffer.from(expected)
  return a.length === b.length && timingSafeEqual(a, b)
}
