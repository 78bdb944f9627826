// Against a job queue on the same PostgreSQL server: ITEMS trivial items
// (bench/jobs/trivial.ts) through longhaul with its journal in PostgreSQL, and
// as ITEMS pg-boss jobs, one per item, with 1, 2 and 4 processes each. Every
// measurement gets a fresh database of one throwaway server (PostgreSQL's
// defaults, fsync on).
//
// - longhaul: `longhaul run --store` (the owner) and, once it prints the run's
//   id, k-1 `longhaul worker --run` processes, one worker thread each. Timed
//   from spawning the owner to its exit: it exits once every item is committed.
// - pg-boss `work`: ITEMS jobs are enqueued first (boss.insert, 1,000 a call;
//   timed apart), then k processes run boss.work() (lib/pgbossWorker.mjs).
//   Timed from spawning them until the database counts ITEMS jobs completed.
// - pg-boss `fetch`: the same with boss.fetch() + boss.complete() in a loop
//   with no pause between batches, at the same batch size.
//
// With ITEM_MS > 0, every item (longhaul's bench/jobs/remote.ts, and each
// pg-boss job) waits that long without using the CPU, as a call to another
// service would: the case where more processes help even on 2 cores.
//
//   node bench/cases/postgres.mjs ITEMS BATCH_SIZE POLLING_S [ITEM_MS]
import { fork, spawn } from 'node:child_process'
import pg from 'pg'
import PgBoss from 'pg-boss'
import { startPostgres } from '../lib/postgres.mjs'
import { emit, jobPath, round, say, scratch } from '../lib/report.mjs'

const [items, batchSize, pollingIntervalSeconds, itemMs = 0] = process.argv.slice(2).map(Number)
const PROCESSES = [1, 2, 4]
const LONGHAUL = new URL('../../bin/longhaul.mjs', import.meta.url).pathname
const PGBOSS_WORKER = new URL('../lib/pgbossWorker.mjs', import.meta.url).pathname
const JOB = jobPath(itemMs > 0 ? 'remote.ts' : 'trivial.ts')
const PARAMS = itemMs > 0 ? ['--param', `ms=${itemMs}`] : []
const QUEUE = 'items'
const ENQUEUE_BATCH = 1_000

const server = await startPostgres()
try {
  const version = await query(server.urlFor('postgres'), 'SHOW server_version').then((rows) => rows[0].server_version)
  let digest
  for (const processes of PROCESSES) {
    const ours = await longhaul(processes)
    if ((digest ??= ours.digest) !== ours.digest)
      throw new Error(`longhaul's digest with ${processes} processes differs from the one with 1`)
    const work = await pgboss(processes, 'work')
    const fetchLoop = await pgboss(processes, 'fetch')
    say(
      `postgres ${items} items${itemMs > 0 ? ` of ${itemMs} ms` : ''}, ${processes} process(es): longhaul ${perSecond(ours.ms)}/s, pg-boss work ${perSecond(work.ms)}/s, fetch loop ${perSecond(fetchLoop.ms)}/s`,
    )
    emit('postgres', {
      items,
      itemMs,
      processes,
      longhaul: {
        itemsPerSecond: perSecond(ours.ms),
        wallMs: round(ours.ms, 1),
        // From spawning the owner to the `complete` event in the journal (the owner's exit follows it).
        runCompleteMs: ours.completeMs,
        // The owner's own figure (its --json wallMs): from runMapJob's start, after the process and longhaul have loaded.
        ownerRunMs: ours.ownerRunMs,
        committedBy: ours.committedBy,
        settings: { workerThreadsPerProcess: 1, leaseTtlSeconds: 30, preflight: 'skipped (--skip-preflight)' },
      },
      pgboss: {
        itemsPerSecond: perSecond(work.ms),
        wallMs: round(work.ms, 1),
        enqueueMs: round(work.enqueueMs, 1),
        enqueuePerSecond: perSecond(work.enqueueMs),
        settings: { api: 'work', batchSize, pollingIntervalSeconds, insertBatch: ENQUEUE_BATCH },
      },
      pgbossFetchLoop: {
        itemsPerSecond: perSecond(fetchLoop.ms),
        wallMs: round(fetchLoop.ms, 1),
        enqueueMs: round(fetchLoop.enqueueMs, 1),
        settings: { api: 'fetch + complete, no pause', batchSize, insertBatch: ENQUEUE_BATCH },
      },
      ratio: round(work.ms / ours.ms, 2),
      ratioFetchLoop: round(fetchLoop.ms / ours.ms, 2),
      postgres: { version, settings: 'server defaults (fsync on, synchronous_commit on)' },
      target: 'reported',
    })
  }
} finally {
  server.stop()
}

function perSecond(ms) {
  return Math.round((items * 1000) / ms)
}

async function query(url, text, values = []) {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  try {
    return (await client.query(text, values)).rows
  } finally {
    await client.end()
  }
}

/** A run of `processes` longhaul processes on a fresh database: its wall time, when it completed, who committed what. */
async function longhaul(processes) {
  const url = await server.createDatabase(`longhaul_${processes}`)
  const out = scratch(`postgres-longhaul-${processes}`)
  const startedAt = Date.now()
  const started = performance.now()
  const owner = longhaulCli([
    'run',
    JOB,
    ...PARAMS,
    '--store',
    url,
    '--out',
    out,
    '--total',
    String(items),
    '--workers',
    '1',
    '--skip-preflight',
    '--json',
  ])
  const runId = await owner.runId
  const workers = Array.from({ length: processes - 1 }, () =>
    longhaulCli(['worker', JOB, '--store', url, '--run', runId, '--out', out, '--workers', '1', '--json']),
  )
  const ownerSummary = await owner.done
  const ms = performance.now() - started
  const summaries = [ownerSummary, ...(await Promise.all(workers.map((worker) => worker.done)))]
  for (const summary of summaries) {
    if (summary.state !== 'complete' || summary.committed !== items)
      throw new Error(`a longhaul process ended ${summary.state} with ${summary.committed} of ${items} items`)
  }
  const [complete] = await query(
    url,
    "SELECT at::float8 AS at FROM longhaul.events WHERE run_id = $1 AND type = 'complete'",
    [runId],
  )
  return {
    ms,
    completeMs: complete.at - startedAt,
    ownerRunMs: ownerSummary.wallMs,
    committedBy: summaries.map((summary) => summary.committedThisSession),
    digest: ownerSummary.digest,
  }
}

/** A `longhaul` command: `runId` resolves once it prints the run's id (owners only), `done` to its --json summary. */
function longhaulCli(args) {
  const child = spawn(process.execPath, [LONGHAUL, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout.setEncoding('utf8').on('data', (text) => (stdout += text))
  const done = new Promise((resolve, reject) => {
    child.on('error', reject)
    child.on('close', (code) => {
      if (code === 0) resolve(JSON.parse(stdout))
      else reject(new Error(`longhaul ${args[0]} exited with ${code}:\n${stderr.slice(-2000)}`))
    })
  })
  const runId = new Promise((resolve, reject) => {
    child.stderr.setEncoding('utf8').on('data', (text) => {
      stderr += text
      const id = /--run (\S+)/.exec(stderr)?.[1]
      if (id) resolve(id)
    })
    done.then(() => reject(new Error(`longhaul ${args[0]} ended without printing the run's id`)), reject)
  })
  runId.catch(() => undefined)
  return { runId, done }
}

/** ITEMS pg-boss jobs on a fresh database, then `processes` worker processes until all are completed. */
async function pgboss(processes, mode) {
  const url = await server.createDatabase(`pgboss_${mode}_${processes}`)
  const enqueueMs = await enqueue(url)
  const db = new pg.Client({ connectionString: url })
  await db.connect()
  const completed = async () =>
    (await db.query("SELECT count(*)::int AS n FROM pgboss.job WHERE name = $1 AND state = 'completed'", [QUEUE]))
      .rows[0].n
  const started = performance.now()
  const args = [url, QUEUE, mode, String(batchSize), String(pollingIntervalSeconds), String(itemMs)]
  const children = Array.from({ length: processes }, () =>
    fork(PGBOSS_WORKER, args, { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] }),
  )
  let handled = 0
  try {
    // Counting in the parent from the children's messages, the database is asked only once they have seen every job.
    await new Promise((resolve, reject) => {
      for (const child of children) {
        child.on('message', (message) => {
          handled += message.handled
          if (handled >= items) resolve()
        })
        child.on('exit', (code) => {
          const early = code !== 0 || mode === 'work' || children.every((other) => other.exitCode !== null)
          if (early)
            reject(new Error(`a pg-boss ${mode} process exited with ${code} after ${handled} of ${items} jobs`))
        })
      }
    })
    while ((await completed()) < items) await new Promise((resolve) => setTimeout(resolve, 10))
    return { ms: performance.now() - started, enqueueMs }
  } finally {
    await db.end()
    await Promise.all(
      children.map(
        (child) =>
          child.exitCode ??
          child.signalCode ??
          new Promise((resolve) => {
            child.once('exit', resolve)
            child.kill()
          }),
      ),
    )
  }
}

/** Creates the queue and inserts ITEMS jobs ({ i }), ENQUEUE_BATCH a call; returns the time the inserts took. */
async function enqueue(url) {
  const boss = new PgBoss(url)
  boss.on('error', (error) => say(`pg-boss: ${error.message}`))
  await boss.start()
  try {
    await boss.createQueue(QUEUE)
    const started = performance.now()
    for (let start = 0; start < items; start += ENQUEUE_BATCH) {
      await boss.insert(
        Array.from({ length: Math.min(ENQUEUE_BATCH, items - start) }, (_, k) => ({
          name: QUEUE,
          data: { i: start + k },
        })),
      )
    }
    return performance.now() - started
  } finally {
    await boss.stop({ graceful: false })
  }
}
