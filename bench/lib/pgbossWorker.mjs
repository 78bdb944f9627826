// One pg-boss worker process for the `postgres` benchmark. It makes the same
// trivial item as bench/jobs/trivial.ts ({ i }, as a JSON line) for each job
// it takes, and tells its parent (IPC) how many it handled after each batch.
//
//   node bench/lib/pgbossWorker.mjs URL QUEUE work BATCH_SIZE POLLING_S [ITEM_MS]
//     boss.work(): pg-boss's polling worker; completes each batch after the
//     handler returns. Runs until its parent stops it.
//   node bench/lib/pgbossWorker.mjs URL QUEUE fetch BATCH_SIZE POLLING_S [ITEM_MS]
//     boss.fetch() then boss.complete() in a loop with no pause, until a fetch
//     finds nothing left: what pg-boss's own statements cost, without the
//     polling worker's wait between fetches.
// With ITEM_MS, each job first waits that long without using the CPU, one
// after the other, as bench/jobs/remote.ts does in longhaul's one thread.
import PgBoss from 'pg-boss'

const [url, queue, mode, batchArg, pollingArg, itemMsArg] = process.argv.slice(2)
const batchSize = Number(batchArg)
const itemMs = Number(itemMsArg ?? 0)
const pause = new Int32Array(new SharedArrayBuffer(4))
const boss = new PgBoss(url)
boss.on('error', (error) => process.stderr.write(`pg-boss worker ${process.pid}: ${error.message}\n`))
await boss.start()

/** The trivial item of each job; pg-boss keeps no output for a batch, so the lines go nowhere. */
function make(jobs) {
  let bytes = 0
  for (const job of jobs) {
    if (itemMs > 0) Atomics.wait(pause, 0, 0, itemMs)
    bytes += JSON.stringify({ i: job.data.i }).length + 1
  }
  process.send({ handled: jobs.length })
  return bytes
}

if (mode === 'work') {
  await boss.work(queue, { batchSize, pollingIntervalSeconds: Number(pollingArg) }, async (jobs) => {
    make(jobs)
  })
} else if (mode === 'fetch') {
  for (;;) {
    const jobs = await boss.fetch(queue, { batchSize })
    if (!jobs.length) break
    make(jobs)
    await boss.complete(
      queue,
      jobs.map((job) => job.id),
    )
  }
  await boss.stop({ graceful: false })
  process.disconnect()
} else throw new Error(`unknown mode '${mode}': use work or fetch`)
