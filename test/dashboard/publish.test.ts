/**
 * Publishers push a run's progress out, for machines that accept no inbound
 * connection: to a real HTTP receiver and a real S3-compatible server here.
 * Publishing must never slow or fail the run.
 */
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  type Publishers,
  type PublishTargetInput,
  publishTargetLabel,
  publishTargetSchema,
  startPublishers,
} from '../../src/dashboard/publish/publishers.ts'
import { objectKey } from '../../src/dashboard/publish/s3.ts'
import { statusHtml } from '../../src/dashboard/publish/statusHtml.ts'
import { UsageError } from '../../src/errors.ts'
import { importOptional } from '../../src/s3Client.ts'
import type { ProgressSnapshot, ProgressState } from '../../src/telemetry/snapshot.ts'
import { runMapJob } from '../../src/work/map/runMapJob.ts'
import { fixture, tempDir } from '../support/cli.ts'
import { type S3Server, startS3Server } from '../support/s3server.ts'

const root = tempDir('longhaul-publish-')
let runs = 0

const targets = (...raw: PublishTargetInput[]) => raw.map((target) => publishTargetSchema.parse(target))

/** A snapshot as the runner makes them; the fields a test cares about are overridden. */
function snapshot(overrides: Partial<ProgressSnapshot> = {}): ProgressSnapshot {
  return {
    job: 'squares',
    runId: 'run-1',
    state: 'running',
    done: 120,
    total: 200,
    percent: 60,
    inFlight: 0,
    itemsPerSecond: 35.2,
    etaSeconds: 130,
    etaLow: 110,
    etaHigh: 160,
    etaUnknownBecause: null,
    startedAt: '2030-01-01T00:00:00.000Z',
    updatedAt: '2030-01-01T00:00:04.000Z',
    heartbeatAt: '2030-01-01T00:00:04.000Z',
    lastCheckpointAt: '2030-01-01T00:00:03.000Z',
    checkpoints: 3,
    workers: 2,
    elapsedSeconds: 4,
    stalledForSeconds: null,
    stallAfterSeconds: 300,
    refreshSeconds: 10,
    heartbeatSeconds: 10,
    owner: { pid: 4242, host: 'gpu-box' },
    gate: null,
    error: null,
    ...overrides,
  }
}

/** A real squares run (200 items, one worker) that hands every snapshot to `publishers`; returns its summary and final snapshot. */
async function runSquares(publishers?: Publishers) {
  let final: ProgressSnapshot | undefined
  const started = performance.now()
  const summary = await runMapJob({
    jobPath: fixture('squares.ts'),
    outDir: join(root, `run-${++runs}`),
    workers: 1,
    total: 200,
    observer: {
      progress(snapshot, reason) {
        final = snapshot
        publishers?.observer.progress(snapshot, reason)
      },
    },
  })
  return { summary, final: final!, ms: performance.now() - started }
}

interface Received {
  readonly body: string
  readonly headers: IncomingHttpHeaders
  readonly at: number
}

/** How the receiver answers its n-th request (from 0): a status, a status later, or never. */
type Answer = number | Promise<number> | 'hang'

/** A real HTTP server that records what it is sent. */
async function startReceiver(answer: (n: number) => Answer = () => 200) {
  const received: Received[] = []
  const waiters: { count: number; resolve: () => void }[] = []
  let active = 0
  let maxActive = 0
  const server: Server = createServer((req, res) => {
    active++
    maxActive = Math.max(maxActive, active)
    res.on('close', () => active--)
    let body = ''
    req.setEncoding('utf8')
    req.on('data', (chunk: string) => (body += chunk))
    req.on('end', () => {
      const n = received.length
      received.push({ body, headers: req.headers, at: performance.now() })
      for (const waiter of waiters.filter((w) => received.length >= w.count)) waiter.resolve()
      const reply = answer(n)
      if (reply === 'hang') return
      void Promise.resolve(reply).then((status) =>
        res.writeHead(status, { 'content-type': 'text/plain' }).end(status < 300 ? 'ok' : 'server error'),
      )
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks/T0/SECRET`,
    received,
    get maxActive() {
      return maxActive
    },
    bodies: () => received.map((r) => JSON.parse(r.body) as ProgressSnapshot),
    /** Resolves once `count` requests have arrived. */
    until(count: number, timeoutMs = 15_000): Promise<void> {
      if (received.length >= count) return Promise.resolve()
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`only ${received.length} of ${count} requests arrived in ${timeoutMs} ms`)),
          timeoutMs,
        )
        waiters.push({
          count,
          resolve: () => {
            clearTimeout(timer)
            resolve()
          },
        })
      })
    },
    close(): Promise<void> {
      server.closeAllConnections()
      return new Promise((resolve) => server.close(() => resolve()))
    },
  }
}

describe('publish config', () => {
  it('publish-config: targets get their defaults (everyMinutes 5, json, prefix {job}); unknown kinds, non-http URLs and unknown keys are refused', () => {
    expect(publishTargetSchema.parse({ kind: 'webhook', url: 'https://hooks.example.com/x' })).toEqual({
      kind: 'webhook',
      url: 'https://hooks.example.com/x',
      format: 'json',
      everyMinutes: 5,
    })
    expect(publishTargetSchema.parse({ kind: 's3', bucket: 'runs' })).toEqual({
      kind: 's3',
      bucket: 'runs',
      prefix: '{job}',
      forcePathStyle: false,
      everyMinutes: 5,
    })
    expect(publishTargetSchema.safeParse({ kind: 'ftp', url: 'https://x.example' }).success).toBe(false)
    expect(publishTargetSchema.safeParse({ kind: 'webhook', url: 'ftp://x.example/hook' }).success).toBe(false)
    expect(publishTargetSchema.safeParse({ kind: 'webhook', url: 'https://x.example', everyMinutes: 0 }).success).toBe(
      false,
    )
    expect(publishTargetSchema.safeParse({ kind: 's3', bukket: 'runs' }).success).toBe(false)
  })

  it("publish-no-secrets: a target is described by its host or bucket, never by a webhook's secret path or headers", () => {
    const [slack] = targets({
      kind: 'webhook',
      url: 'https://hooks.slack.com/services/T0/B0/SECRET',
      format: 'slack',
      headers: { authorization: 'Bearer TOKEN' },
    })
    expect(publishTargetLabel(slack!)).toBe('webhook hooks.slack.com (slack, every 5 min and on every change of state)')
    const [bucket] = targets({ kind: 's3', bucket: 'runs', prefix: '/team/{job}/', endpoint: 'http://127.0.0.1:9000' })
    expect(publishTargetLabel(bucket!)).toBe(
      's3://runs/team/{job} at 127.0.0.1:9000 (every 5 min and on every change of state)',
    )
    expect(objectKey('/team/{job}/{runId}/', snapshot(), 'progress.json')).toBe('team/squares/run-1/progress.json')
    expect(objectKey('', snapshot(), 'status.html')).toBe('status.html')
  })
})

describe('webhook', () => {
  it('publish-on-state-change: a real run posts progress.json on its first snapshot and on every change of state, the last equal to the final snapshot', async () => {
    const receiver = await startReceiver()
    const notes: string[] = []
    const publishers = startPublishers(targets({ kind: 'webhook', url: receiver.url, everyMinutes: 60 }), {
      onNote: (note) => notes.push(note),
    })
    const { summary, final } = await runSquares(publishers)
    await publishers.close()
    await receiver.close()
    expect(summary.state).toBe('complete')
    expect(receiver.bodies().map((b) => b.state)).toEqual(['running', 'complete'])
    expect(receiver.bodies().at(-1)).toEqual(final)
    expect(final).toMatchObject({ state: 'complete', done: 200 })
    expect(receiver.received[0]!.headers['content-type']).toBe('application/json')
    expect(notes).toEqual([])
  })

  it('publish-every-n-minutes: between changes of state a target is sent the progress only every everyMinutes (injected clock)', async () => {
    const receiver = await startReceiver()
    let clock = Date.parse('2030-01-01T00:00:00Z')
    const publishers = startPublishers(targets({ kind: 'webhook', url: receiver.url, everyMinutes: 5 }), {
      onNote: () => undefined,
      now: () => clock,
    })
    publishers.observer.progress(snapshot({ done: 0 }), 'state')
    await receiver.until(1)
    clock += 60_000
    publishers.observer.progress(snapshot({ done: 10 }), 'tick')
    clock += 4 * 60_000
    publishers.observer.progress(snapshot({ done: 50 }), 'tick')
    await receiver.until(2)
    clock += 60_000
    publishers.observer.progress(snapshot({ done: 60 }), 'tick')
    // A change of state goes out at once, whatever the clock.
    publishers.observer.progress(snapshot({ done: 60, state: 'stalled', stalledForSeconds: 300 }), 'state')
    await publishers.close()
    await receiver.close()
    expect(receiver.bodies().map((b) => [b.state, b.done])).toEqual([
      ['running', 0],
      ['running', 50],
      ['stalled', 60],
    ])
  })

  it('slack-format: format slack posts { text } with one line — job, STATE, done/total, percent, rate, ETA — escaped, with the configured headers', async () => {
    const receiver = await startReceiver()
    const publishers = startPublishers(
      targets({ kind: 'webhook', url: receiver.url, format: 'slack', headers: { authorization: 'Bearer TOKEN' } }),
      { onNote: () => undefined },
    )
    publishers.observer.progress(snapshot(), 'state')
    publishers.observer.progress(snapshot({ state: 'failed', error: 'item 7 failed: <boom>\n  at job.ts:3' }), 'state')
    await publishers.close()
    await receiver.close()
    const texts = receiver.received.map((r) => (JSON.parse(r.body) as { text: string }).text)
    expect(receiver.received.map((r) => Object.keys(JSON.parse(r.body) as object))).toEqual([['text'], ['text']])
    expect(texts[0]).toBe('squares RUNNING 120/200 (60.0%) · 35.2 items/s · ETA 2m10s (1m50s – 2m40s)')
    expect(texts[1]).toBe(
      'squares FAILED 120/200 (60.0%) · 35.2 items/s · ETA — · error: item 7 failed: &lt;boom&gt; at job.ts:3',
    )
    for (const text of texts) expect(text).not.toContain('\n')
    expect(receiver.received[0]!.headers.authorization).toBe('Bearer TOKEN')
  })

  it('one-in-flight: a target has at most one request at a time, and a newer snapshot replaces one still waiting', async () => {
    let release!: (status: number) => void
    const held = new Promise<number>((resolve) => (release = resolve))
    const receiver = await startReceiver((n) => (n === 0 ? held : 200))
    const publishers = startPublishers(targets({ kind: 'webhook', url: receiver.url }), { onNote: () => undefined })
    publishers.observer.progress(snapshot({ done: 100 }), 'state')
    await receiver.until(1)
    publishers.observer.progress(snapshot({ done: 110, state: 'stalled', stalledForSeconds: 300 }), 'state')
    publishers.observer.progress(snapshot({ done: 150 }), 'state')
    publishers.observer.progress(snapshot({ done: 160 }), 'commit')
    release(200)
    await publishers.close()
    await receiver.close()
    expect(receiver.bodies().map((b) => [b.state, b.done])).toEqual([
      ['running', 100],
      ['running', 160],
    ])
    expect(receiver.maxActive).toBe(1)
  })

  // These two wait out the backoff and the grace, each on its own receiver and publishers: at the same time.
  it.concurrent('retry-with-backoff: a target that answers 500 is retried after 1 s, then 2 s, until it takes the progress; the failure is reported once', async ({
    expect,
  }) => {
    const receiver = await startReceiver((n) => (n < 2 ? 500 : 200))
    const notes: string[] = []
    const publishers = startPublishers(targets({ kind: 'webhook', url: receiver.url }), {
      onNote: (note) => notes.push(note),
    })
    publishers.observer.progress(snapshot(), 'state')
    await receiver.until(3)
    await publishers.close()
    await receiver.close()
    const [first, second, third] = receiver.received.map((r) => r.at)
    expect(second! - first!).toBeGreaterThanOrEqual(950)
    expect(third! - second!).toBeGreaterThanOrEqual(1_950)
    expect(receiver.bodies()).toEqual([snapshot(), snapshot(), snapshot()])
    expect(notes.filter((note) => / failed \(/.test(note))).toEqual([
      `publishing to webhook ${new URL(receiver.url).host} failed (HTTP 500 Internal Server Error: server error); retrying in the background with backoff — the run is not affected`,
    ])
    expect(notes.at(-1)).toBe(
      `publishing to webhook ${new URL(receiver.url).host} works again (after 2 failed attempts)`,
    )
    for (const note of notes) expect(note).not.toContain('SECRET')
  })

  it.concurrent('never-slows-the-job: a webhook that never answers does not hold the run up; its end waits at most the 3 s grace and says the final state was not delivered', async ({
    expect,
  }) => {
    const baseline = await runSquares()
    const receiver = await startReceiver(() => 'hang')
    const notes: string[] = []
    const publishers = startPublishers(targets({ kind: 'webhook', url: receiver.url }), {
      onNote: (note) => notes.push(note),
    })
    const run = await runSquares(publishers)
    const closing = performance.now()
    await publishers.close()
    const closeMs = performance.now() - closing
    await receiver.close()
    expect(run.summary.state).toBe('complete')
    expect(receiver.received.length).toBe(1)
    expect(closeMs).toBeGreaterThanOrEqual(2_900)
    expect(closeMs).toBeLessThan(3_800)
    // The run itself is not slowed: only the grace is added to its end (with room for a busy machine).
    expect(run.ms + closeMs).toBeLessThan(baseline.ms + 3_000 + 2_500)
    expect(notes).toEqual([
      `publishing to webhook ${new URL(receiver.url).host}: the final progress (COMPLETE) was not delivered within 3 s (no answer yet); gave up`,
    ])
  }, 30_000)

  it('never-fails-the-job: a target that refuses connections and a note sink that throws leave the run complete', async () => {
    const gone = await startReceiver()
    await gone.close()
    const publishers = startPublishers(targets({ kind: 'webhook', url: gone.url }), {
      onNote: () => {
        throw new Error('the terminal went away')
      },
      finalGraceMs: 500,
    })
    const { summary } = await runSquares(publishers)
    await publishers.close()
    expect(summary).toMatchObject({ state: 'complete', committed: 200 })
  }, 30_000)
})

describe('s3', () => {
  let server: S3Server
  let endpoint = ''
  const savedEnv: Record<string, string | undefined> = {}

  beforeAll(async () => {
    server = await startS3Server('runs')
    endpoint = server.endpoint
    for (const [name, value] of Object.entries(server.env)) {
      savedEnv[name] = process.env[name]
      process.env[name] = value
    }
  })
  afterAll(async () => {
    for (const [name, value] of Object.entries(savedEnv)) {
      if (value === undefined) delete process.env[name]
      else process.env[name] = value
    }
    await server?.close()
  })

  it('publish-s3: a real run puts progress.json (equal to the final snapshot), PROGRESS.txt and a self-contained status.html under the prefix', async () => {
    const notes: string[] = []
    const publishers = startPublishers(
      targets({
        kind: 's3',
        bucket: 'runs',
        prefix: 'team/{job}',
        endpoint,
        region: 'us-east-1',
        forcePathStyle: true,
      }),
      { onNote: (note) => notes.push(note) },
    )
    const { summary, final } = await runSquares(publishers)
    await publishers.close()
    expect(notes).toEqual([])
    expect(summary.state).toBe('complete')

    const client = new S3Client({
      endpoint,
      region: 'us-east-1',
      forcePathStyle: true,
      credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
    })
    const get = async (name: string) => {
      const object = await client.send(new GetObjectCommand({ Bucket: 'runs', Key: `team/squares/${name}` }))
      return { type: object.ContentType, text: await object.Body!.transformToString() }
    }
    const json = await get('progress.json')
    expect(JSON.parse(json.text)).toEqual(final)
    expect(json.type).toBe('application/json; charset=utf-8')
    const text = await get('PROGRESS.txt')
    expect(text.text.split('\n')[0]).toBe('COMPLETE')
    expect(text.text).toContain('200 / 200 (100.0%)')
    const html = await get('status.html')
    expect(html.type).toBe('text/html; charset=utf-8')
    expect(html.text).toContain('>COMPLETE<')
    expect(html.text).toContain('state-complete')
    expect(html.text).toContain(final.runId)
    expect(html.text).not.toMatch(/<script/i)
    client.destroy()
  }, 60_000)

  it('publish-s3-missing-sdk: without @aws-sdk/client-s3 installed, the error names the package and how to install it', async () => {
    const missing = importOptional('@aws-sdk/client-s3-not-installed', "publishing to the s3 bucket 'runs'")
    await expect(missing).rejects.toBeInstanceOf(UsageError)
    await expect(missing).rejects.toThrow(
      "publishing to the s3 bucket 'runs' needs the package @aws-sdk/client-s3-not-installed, which is not installed. Install it beside longhaul: npm install @aws-sdk/client-s3-not-installed",
    )
  })
})

describe('status.html', () => {
  const STATES: ProgressState[] = ['running', 'complete', 'failed', 'stalled', 'interrupted']
  const OUR_TAGS = new Set([
    '!doctype',
    'html',
    'head',
    'meta',
    'title',
    'style',
    'body',
    'main',
    'h1',
    'p',
    'span',
    'div',
    'table',
    'tr',
    'th',
    'td',
    'footer',
  ])
  const tags = (html: string) => [...html.matchAll(/<\/?([!a-z0-9]+)/gi)].map((m) => m[1]!.toLowerCase())

  it('status-html: the state shows as a word and a colour; the page reloads itself, and has no script and no external URL', () => {
    for (const state of STATES) {
      const html = statusHtml(
        snapshot({ state, stalledForSeconds: state === 'stalled' ? 320 : null }),
        Date.parse('2030-01-01T00:00:05Z'),
      )
      expect(html).toContain(`<span class="state state-${state}">${state.toUpperCase()}</span>`)
      expect(html).toMatch(new RegExp(`\\.state-${state} \\{ background: #[0-9a-f]{6}; \\}`))
      expect(html).toContain('<meta http-equiv="refresh" content="30">')
      expect(html).toContain('120 / 200')
      expect(html).toContain('60.0%')
      expect(html).not.toMatch(/<script|https?:|src=|href=|url\(|@import/i)
      for (const tag of tags(html)) expect(OUR_TAGS.has(tag)).toBe(true)
    }
    expect(statusHtml(snapshot({ state: 'stalled', stalledForSeconds: 320 }), 0)).toContain(
      'nothing finished for 5m20s',
    )
  })

  it('status-html-escaped: whatever the job name, host, run id, gate reason or error hold, every value is escaped', () => {
    const hostile = fc.string({
      unit: fc.constantFrom('<', '>', '&', '"', "'", '/', '=', ' ', 's', 'c', 'r', 'i', 'p', 't', 'x'),
    })
    fc.assert(
      fc.property(hostile, hostile, hostile, hostile, hostile, (job, host, runId, reason, error) => {
        const html = statusHtml(
          snapshot({
            job,
            runId,
            error,
            owner: { pid: 1, host },
            gate: { status: 'waived', reason, policy: 'the default policy' },
          }),
          0,
        )
        for (const tag of tags(html)) expect(OUR_TAGS.has(tag)).toBe(true)
        expect(html).not.toMatch(/<script/i)
      }),
    )
    const html = statusHtml(snapshot({ job: '<script>alert(1)</script>', error: `"quoted" & 'single'` }), 0)
    expect(html).toContain('&#60;script&#62;alert(1)&#60;/script&#62;')
    expect(html).toContain('&#34;quoted&#34; &#38; &#39;single&#39;')
  })
})
