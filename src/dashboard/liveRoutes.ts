import type { Context, Hono } from 'hono'
import { type SSEStreamingApi, streamSSE } from 'hono/streaming'
import type { Interest, RunFeed } from './feed.ts'
import type { IndexChange, RootIndex } from './rootIndex.ts'
import { noSuchRun, RUN_ID } from './runs.ts'

/** A comment line sent on a quiet stream now and then, so a proxy or a sleeping laptop's NAT does not drop it. */
const KEEPALIVE_MS = 20_000
/** Run ids one stream may follow (a browser's open run pages). */
const MAX_FOLLOWED = 200

/**
 * The live-update routes, all served from the one index of the root:
 *
 * - `/api/live?list=1&runs=ID,ID`: ONE stream for a whole browser (its tabs share it): a `hello` with the
 *   server's epoch and the index version, then `runs` events, each a diff — the runs that changed (`upserts`)
 *   and those that went away (`removed`) — of every run (`list=1`) or of the runs named.
 * - `/api/changes?since=VERSION&list=1&runs=…`: the same diff, asked for (a browser without shared workers
 *   polls it instead of holding a connection); `{ reset: true }` when the page must fetch the list again.
 * - `/api/runs/:id/events`: one run's status as `status` events, and `gone` when its folder no longer holds it
 *   (the older, one-run stream).
 */
export function liveRoutes(
  app: Hono,
  { root, index, feed, maxStreams }: { root: string; index: RootIndex; feed: RunFeed; maxStreams: number },
): void {
  const refused = (c: Context) =>
    c.json({ error: `too many live connections (${maxStreams}); close some pages or try again shortly` }, 503)

  app.get('/api/live', async (c) => {
    await index.ready
    const interest = interestOf(c)
    if (!interest) return c.json({ error: `runs= takes at most ${MAX_FOLLOWED} run ids, separated by commas` }, 400)
    if (feed.clients >= maxStreams) return refused(c)
    return streamSSE(c, async (stream) => {
      let sequence = 0
      const send = (event: string, data: unknown) =>
        stream.writeSSE({ event, id: String(++sequence), data: JSON.stringify(data) }).catch(() => undefined)
      send('hello', { epoch: index.epoch, version: index.version })
      await follow(stream, feed, interest, (change) => send('runs', { epoch: index.epoch, ...change }))
    })
  })

  app.get('/api/changes', async (c) => {
    await index.ready
    const interest = interestOf(c)
    const since = Number(c.req.query('since') ?? '-1')
    if (!interest || !Number.isInteger(since))
      return c.json({ error: 'since= takes the version the page has (an integer); runs= at most 200 ids' }, 400)
    const epoch = c.req.query('epoch')
    const change = epoch === index.epoch && since >= 0 ? index.changesSince(since) : undefined
    if (!change) {
      // Too far behind, or another server: the list is fetched again; a followed run is sent as it is now.
      const upserts = [...interest.runs].map((id) => index.find(id)).filter((item) => item !== undefined)
      return c.json({ epoch: index.epoch, version: index.version, reset: true, upserts, removed: [] })
    }
    const upserts = change.upserts.filter((item) => interest.list || interest.runs.has(item.id))
    const removed = change.removed.filter((gone) => interest.list || interest.runs.has(gone.id))
    return c.json({ epoch: index.epoch, version: change.version, upserts, removed })
  })

  app.get('/api/runs/:id/events', async (c) => {
    await index.ready
    const id = c.req.param('id')
    // ?dir= (relative to the root) names the folder when several hold the same run (copies).
    const run = RUN_ID.test(id) ? await index.findNow(id, c.req.query('dir')) : undefined
    if (!run) return noSuchRun(c, root)
    if (feed.clients >= maxStreams) return refused(c)
    const ours = (item: { id: string; dir: string }) => item.id === id && item.dir === run.dir
    return streamSSE(c, async (stream) => {
      let sequence = 0
      const send = (event: string, data: unknown) =>
        stream.writeSSE({ event, id: String(++sequence), data: JSON.stringify(data) }).catch(() => undefined)
      await follow(stream, feed, { list: false, runs: new Set([id]) }, (change) => {
        for (const item of change.upserts) if (ours(item)) send('status', item)
        // Said once: the folder no longer holds the run (deleted, moved, or holding another run).
        for (const gone of change.removed) if (ours(gone)) send('gone', { gone: true, ...gone })
      })
    })
  })
}

/** Follows `interest` until the client goes away; a failed write is the client's going, not an error of the server. */
async function follow(
  stream: SSEStreamingApi,
  feed: RunFeed,
  interest: Interest,
  send: (change: IndexChange) => void,
): Promise<void> {
  const unsubscribe = feed.subscribe(interest, send)
  const keepalive = setInterval(() => stream.write(': keepalive\n\n').catch(() => undefined), KEEPALIVE_MS)
  try {
    await new Promise<void>((resolve) => stream.onAbort(resolve))
  } finally {
    clearInterval(keepalive)
    unsubscribe()
  }
}

/** `list=1` and `runs=ID,ID` of a request; undefined when the ids are too many. Ids that are not run ids are ignored. */
function interestOf(c: Context): Interest | undefined {
  const ids = (c.req.query('runs') ?? '').split(',').filter((id) => RUN_ID.test(id))
  if (ids.length > MAX_FOLLOWED) return undefined
  return { list: c.req.query('list') === '1', runs: new Set(ids) }
}
