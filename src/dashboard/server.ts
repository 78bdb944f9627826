import { randomBytes, timingSafeEqual } from 'node:crypto'
import { readdirSync, readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import type { AddressInfo } from 'node:net'
import { networkInterfaces } from 'node:os'
import { fileURLToPath } from 'node:url'
import { type ServerType, serve } from '@hono/node-server'
import { Hono } from 'hono'
import { getCookie, setCookie } from 'hono/cookie'
import { addFactRoutes } from './factRoutes.ts'
import { RunFeed } from './feed.ts'
import { listHtml } from './listHtml.ts'
import { liveRoutes } from './liveRoutes.ts'
import { prometheusText } from './metrics.ts'
import { pageHtmls } from './pageHead.ts'
import { RootIndex } from './rootIndex.ts'
import { noSuchRun, RUN_ID, runDetail } from './runs.ts'

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
  /** Live-update connections open now (one per browser that follows something, however many of its tabs). */
  readonly streams: () => number
  /** Where the page is, with the token when there is one. */
  readonly url: string
  /** Every address it can be reached at, `url` first (a wildcard bind has one per network interface). */
  readonly urls: readonly string[]
  readonly token: string | undefined
  close(): Promise<void>
}

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '::1'])
const COOKIE = 'longhaul_token'

const require = createRequire(import.meta.url)
const STATIC_DIR = new URL('./static/', import.meta.url)
/**
 * Every file the server will ever send, by URL path: the page's own modules and styles (listed once, at start-up)
 * and the chart library. Nothing else is read from disk (no path traversal).
 */
const STATIC_FILES: Readonly<Record<string, { path: string; type: string }>> = {
  ...Object.fromEntries(
    readdirSync(STATIC_DIR)
      .filter((name) => /^[\w-]+\.(js|css)$/.test(name))
      .map((name) => [
        `/static/${name}`,
        {
          path: fileURLToPath(new URL(name, STATIC_DIR)),
          type: `text/${name.endsWith('.js') ? 'javascript' : 'css'}; charset=utf-8`,
        },
      ]),
  ),
  '/static/uPlot.iife.min.js': {
    path: require.resolve('uplot/dist/uPlot.iife.min.js'),
    type: 'text/javascript; charset=utf-8',
  },
  '/static/uPlot.min.css': { path: require.resolve('uplot/dist/uPlot.min.css'), type: 'text/css; charset=utf-8' },
}
const STATIC_PATH = fileURLToPath(STATIC_DIR)

/**
 * The dashboard's HTTP app (DESIGN §2 `serve`): the page, its JSON API, live
 * updates over server-sent events and /metrics. Read-only: nothing here
 * changes a run.
 */
export function dashboardApp(
  options: DashboardOptions & {
    /** The one reading of the root behind every request and stream (see rootIndex.ts); its owner closes it. */
    readonly index: RootIndex
    /** The live connections' subscriptions; one of its own when not given. */
    readonly feed?: RunFeed
    /** Where the server listens, once it does: on loopback, requests must be addressed to a loopback name and this port. */
    readonly bound?: () => { readonly port: number; readonly loopback: boolean } | undefined
  },
): Hono {
  const { token, index } = options
  const feed = options.feed ?? new RunFeed(index)
  const maxStreams = options.maxStreams ?? 256
  const app = new Hono()

  app.use('*', async (c, next) => {
    c.header('X-Content-Type-Options', 'nosniff')
    c.header('Referrer-Policy', 'no-referrer')
    c.header(
      'Content-Security-Policy',
      "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'",
    )
    // On loopback, a page of another site could reach the dashboard by pointing its own name at 127.0.0.1
    // (DNS rebinding): only requests addressed to a loopback name are answered.
    const bound = options.bound?.()
    const hostHeader = c.req.header('host') ?? ''
    if (bound?.loopback && !loopbackHost(hostHeader)) {
      return c.text(
        `403 forbidden: this dashboard listens on loopback and answers only requests addressed to 127.0.0.1, localhost or [::1] (this one was addressed to ${JSON.stringify(hostHeader)}). To reach it from another machine, forward the port (ssh -L) or serve with --host and a token.\n`,
        403,
      )
    }
    // Cookies are shared by every port of a host: each dashboard keeps its token under a name of its own.
    const cookie = `${COOKIE}_${bound?.port ?? 0}`
    if (!token || (options.metricsPublic && c.req.path === '/metrics')) return next()
    const fromQuery = c.req.query('token')
    // Any credential that matches lets the request in: a cookie left by an earlier dashboard on this host must not
    // shadow a correct ?token= or header.
    const given = [c.req.header('authorization')?.replace(/^Bearer\s+/i, ''), fromQuery, getCookie(c, cookie)]
    if (!given.some((value) => value !== undefined && sameSecret(value, token))) {
      return c.text(
        '401 unauthorized: this dashboard needs its token. Open the URL printed when `longhaul serve` started (…?token=…), or send "Authorization: Bearer <token>".\n',
        401,
      )
    }
    if (fromQuery !== undefined && sameSecret(fromQuery, token)) {
      // A page opened with ?token= keeps it in a cookie for its own requests and live updates, and the token
      // leaves the address bar (and the history): the page is reloaded at the same address without it.
      setCookie(c, cookie, token, { httpOnly: true, sameSite: 'Strict', path: '/' })
      if (c.req.method === 'GET' && isPage(c.req.path)) {
        const url = new URL(c.req.url)
        url.searchParams.delete('token')
        return c.redirect(`${url.pathname}${url.search}`, 303)
      }
    }
    return next()
  })

  const pages = pageHtmls(STATIC_PATH)
  // The list's first rows are in its HTML (listHtml.ts): painted before any script runs or any data is fetched.
  app.get('/', async (c) => {
    await index.ready
    return c.html(pages.list(listHtml(index.runs(), new URL(c.req.url).searchParams)))
  })
  app.get('/runs/:id', (c) => (isPage(c.req.path) ? c.html(pages.run) : c.text('404 no such run\n', 404)))
  for (const [path, file] of Object.entries(STATIC_FILES)) {
    app.get(path, (c) => {
      c.header('Content-Type', file.type)
      c.header('Cache-Control', 'no-cache')
      return c.body(readFileSync(file.path))
    })
  }

  // Every request is answered from the index: nothing here walks the root.
  app.get('/api/runs', async (c) => {
    await index.ready
    const gzip = /\bgzip\b/.test(c.req.header('accept-encoding') ?? '')
    c.header('Content-Type', 'application/json; charset=utf-8')
    c.header('Vary', 'Accept-Encoding')
    if (gzip) c.header('Content-Encoding', 'gzip')
    return c.body(index.listBody(gzip))
  })
  // ?dir= (relative to the root) names the folder when several hold the same run (copies); ?since=N&proofs=TAG
  // (an earlier answer's eventCount and proofsTag) asks only for what came after it (see runDetail).
  app.get('/api/runs/:id', async (c) => {
    const id = c.req.param('id')
    const run = RUN_ID.test(id) ? await index.findNow(id, c.req.query('dir')) : undefined
    if (!run) return noSuchRun(c, options.root)
    const since = Number(c.req.query('since') ?? Number.NaN)
    const proofsTag = c.req.query('proofs')
    return c.json(
      await runDetail(options.root, run, {
        ...(Number.isInteger(since) && { since }),
        ...(proofsTag !== undefined && { proofsTag }),
      }),
    )
  })
  addFactRoutes(app, options.root, index)
  liveRoutes(app, { root: options.root, index, feed, maxStreams })
  app.get('/metrics', async (c) => {
    c.header('Content-Type', 'text/plain; version=0.0.4; charset=utf-8')
    await index.ready
    return c.body(prometheusText(index.runs()))
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
  const index = new RootIndex(options.root)
  let listening: { port: number; loopback: boolean } | undefined
  const feed = new RunFeed(index)
  const app = dashboardApp({ ...options, token, index, feed, bound: () => listening })
  const server = await new Promise<ServerType>((resolve, reject) => {
    const created = serve({ fetch: app.fetch, port: options.port ?? 8080, hostname: host }, () => resolve(created))
    created.once('error', reject)
  })
  const { port } = server.address() as AddressInfo
  listening = { port, loopback: LOOPBACK.has(host) }
  const urls = reachableAt(host).map((name) => `http://${name}:${port}/${token ? `?token=${token}` : ''}`)
  return {
    url: urls[0]!,
    urls,
    token,
    streams: () => feed.clients,
    close: () =>
      new Promise<void>((resolve) => {
        index.close()
        server.close(() => resolve())
        ;(server as { closeAllConnections?: () => void }).closeAllConnections?.()
      }),
  }
}

/**
 * The names to print for a server bound to `host`: itself, or for a wildcard
 * bind (0.0.0.0, ::) this machine's own addresses — the ones another machine
 * can use — before its loopback one.
 */
function reachableAt(host: string): string[] {
  const bracketed = (address: string) => (address.includes(':') ? `[${address}]` : address)
  if (host !== '0.0.0.0' && host !== '::') return [bracketed(host)]
  const external = Object.values(networkInterfaces())
    .flatMap((addresses) => addresses ?? [])
    .filter((i) => !i.internal && (i.family === 'IPv4' || (host === '::' && !i.address.startsWith('fe80:'))))
    .map((i) => bracketed(i.address))
  return [...external, '127.0.0.1']
}

/** The paths the page itself is served at. */
function isPage(path: string): boolean {
  return path === '/' || RUN_PAGE.test(path)
}
const RUN_PAGE = new RegExp(`^/runs/${RUN_ID.source.slice(1, -1)}$`)

/** True when a Host header names this machine's loopback (any port: a forwarded port, `ssh -L 9000:127.0.0.1:8080`, arrives under its local number). */
function loopbackHost(header: string): boolean {
  const match = /^(\[[^\]]*\]|[^:]*)(?::\d+)?$/.exec(header.toLowerCase())
  return match !== null && LOOPBACK.has(match[1]!.replace(/^\[|\]$/g, ''))
}

function sameSecret(given: string, expected: string): boolean {
  const a = Buffer.from(given)
  const b = Buffer.from(expected)
  return a.length === b.length && timingSafeEqual(a, b)
}
