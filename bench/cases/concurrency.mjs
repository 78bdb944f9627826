// Items that wait on a service: a local HTTP server on 127.0.0.1 answers every
// request after DELAY_MS; the job (jobs/fetch.ts) makes one call per item and
// writes the answer as a JSON line. At each concurrency, longhaul (runMapJob,
// `concurrency` items in flight over the default worker threads) against a
// bare promise pool with as many in flight (fetch, and the same JSON line
// appended to a file), each in a process of its own, side by side; the server
// in a third. Items per level: WAVES × the concurrency (the bare pool's run
// takes about WAVES × DELAY_MS). Throughput is items over the wall time of the
// whole run (longhaul's start-up included: building the job's bundle and
// starting its threads); peak RSS is process.resourceUsage().maxRSS, threads
// included.
//
//   node bench/cases/concurrency.mjs WAVES DELAY_MS LEVEL…
//   node bench/cases/concurrency.mjs server DELAY_MS                   (used by the above)
//   node bench/cases/concurrency.mjs bare|longhaul URL CONCURRENCY ITEMS [WORKERS] (one run; used by the above)
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { createWriteStream } from 'node:fs'
import { createServer } from 'node:http'
import { availableParallelism } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { runScript } from '../lib/child.mjs'
import { emit, jobPath, round, say, scratch } from '../lib/report.mjs'
import { timedRun } from '../lib/timedRun.mjs'

const RATIO_TARGET = 0.9
const RSS_TARGET_MIB = 250
const [mode, ...args] = process.argv.slice(2)

if (mode === 'server') serve(Number(args[0]))
else if (mode === 'bare') await bare(args[0], Number(args[1]), Number(args[2]))
else if (mode === 'longhaul') await longhaul(args[0], Number(args[1]), Number(args[2]), args[3] && Number(args[3]))
else await main(Number(mode), Number(args[0]), args.map(Number).slice(1))

async function main(waves, delayMs, levels) {
  const server = spawn(process.execPath, [fileURLToPath(import.meta.url), 'server', String(delayMs)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  try {
    const [port] = await once(server.stdout, 'data')
    const url = `http://127.0.0.1:${String(port).trim()}`
    for (const concurrency of levels) {
      const items = waves * concurrency
      const runs = {}
      for (const kind of ['bare', 'longhaul']) {
        ;[runs[kind]] = await runScript(fileURLToPath(import.meta.url), [kind, url, String(concurrency), String(items)])
        say(
          `concurrency ${concurrency}, ${kind}: ${items} items in ${runs[kind].wallMs.toFixed(0)} ms, ${(items / (runs[kind].wallMs / 1000)).toFixed(0)} items/s, peak RSS ${(runs[kind].maxRssKiB / 1024).toFixed(0)} MiB, CPU ${(runs[kind].cpuMs / items).toFixed(2)} ms per item`,
        )
      }
      const rate = (run) => items / (run.wallMs / 1000)
      const ratio = rate(runs.longhaul) / rate(runs.bare)
      const rssMiB = runs.longhaul.maxRssKiB / 1024
      emit('concurrency', {
        concurrency,
        delayMs,
        items,
        // longhaul's threads: one, its default once `concurrency` is set (no --workers given).
        threads: 1,
        cores: availableParallelism(),
        longhaul: {
          itemsPerSecond: round(rate(runs.longhaul), 1),
          wallMs: round(runs.longhaul.wallMs, 1),
          // From the first commit on: the pace once the threads are up.
          afterStartItemsPerSecond: round(runs.longhaul.afterStartItemsPerSecond, 1),
          startMs: round(runs.longhaul.startMs, 1),
          peakRssMiB: round(rssMiB, 1),
          cpuMsPerItem: round(runs.longhaul.cpuMs / items),
        },
        bare: {
          itemsPerSecond: round(rate(runs.bare), 1),
          wallMs: round(runs.bare.wallMs, 1),
          peakRssMiB: round(runs.bare.maxRssKiB / 1024, 1),
          cpuMsPerItem: round(runs.bare.cpuMs / items),
        },
        ratio: round(ratio),
        target: `ratio >= ${RATIO_TARGET}${concurrency === 256 ? ` and peak RSS <= ${RSS_TARGET_MIB} MiB` : ''}`,
        pass: ratio >= RATIO_TARGET && (concurrency !== 256 || rssMiB <= RSS_TARGET_MIB),
      })
    }
  } finally {
    server.kill()
  }
}

/** The service: answers GET /item/N with a small JSON object after `delayMs`. */
function serve(delayMs) {
  const server = createServer((request, response) => {
    setTimeout(() => {
      const index = Number(request.url.slice(request.url.lastIndexOf('/') + 1))
      const body = JSON.stringify({ index, answer: `the answer to item ${index}, after ${delayMs} ms` })
      response.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) })
      response.end(body)
    }, delayMs)
  })
  server.keepAliveTimeout = 60_000
  server.listen(0, '127.0.0.1', () => process.stdout.write(`${server.address().port}\n`))
  process.on('SIGTERM', () => process.exit(0))
}

/** A bare promise pool: `concurrency` calls in flight, each answer appended to a file as a JSON line. */
async function bare(url, concurrency, items) {
  const out = createWriteStream(join(scratch(`concurrency-bare-${concurrency}`), 'items.jsonl'), { flags: 'a' })
  const started = performance.now()
  let next = 0
  const worker = async () => {
    while (next < items) {
      const index = next++
      const response = await fetch(`${url}/item/${index}`)
      if (!response.ok) throw new Error(`HTTP ${response.status}`)
      out.write(`${JSON.stringify(await response.json())}\n`)
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker))
  await new Promise((resolve, reject) => out.end((error) => (error ? reject(error) : resolve())))
  const wallMs = performance.now() - started
  process.stdout.write(`${JSON.stringify({ wallMs, maxRssKiB: process.resourceUsage().maxRSS, cpuMs: cpuMs() })}\n`)
}

/** The job through longhaul's whole durable path, `concurrency` items in flight in the process. */
async function longhaul(url, concurrency, items, workers) {
  // The built package, as a user's program or the CLI loads it: without tsx's loader (and the thread it runs in).
  const { runMapJob } = await import('longhaul')
  const timed = await timedRun(runMapJob, {
    jobPath: jobPath('fetch.ts'),
    outDir: scratch(`concurrency-longhaul-${concurrency}`),
    total: items,
    concurrency,
    ...(workers && { workers }),
    params: { url },
  })
  process.stdout.write(`${JSON.stringify({ ...timed, maxRssKiB: process.resourceUsage().maxRSS, cpuMs: cpuMs() })}\n`)
}

/** CPU time of the whole process so far (every thread), ms. */
function cpuMs() {
  const { user, system } = process.cpuUsage()
  return (user + system) / 1000
}
