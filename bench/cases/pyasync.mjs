// Python items that wait on a service: a local HTTP server on 127.0.0.1 (concurrency.mjs's, its own process)
// answers every request after DELAY_MS; the Python job (jobs/pyfetch.py: `async def item`, one raw HTTP/1.1 GET
// per item over asyncio.open_connection, jobs/pyhttp.py) through longhaul (runMapJob with `concurrency`, one
// Python worker process, its default then) against a bare asyncio script making the same calls with as many in
// flight (jobs/pyfetchbare.py, the answers appended to a file as JSON lines), each side in processes of its own.
// Items: WAVES × the concurrency. Throughput is items over the wall time of the whole run (start-up included:
// describing the job, starting the worker); CPU is the run's processes' (Node and Python) per item.
//
//   node bench/cases/pyasync.mjs WAVES DELAY_MS LEVEL…
//   node bench/cases/pyasync.mjs bare|longhaul URL CONCURRENCY ITEMS  (one run; used by the above)
import { spawn, spawnSync } from 'node:child_process'
import { once } from 'node:events'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { runScript } from '../lib/child.mjs'
import { emit, jobPath, round, say, scratch } from '../lib/report.mjs'
import { timedRun } from '../lib/timedRun.mjs'

const RATIO_TARGET = 0.9
const [mode, ...args] = process.argv.slice(2)

if (mode === 'bare') bare(args[0], Number(args[1]), Number(args[2]))
else if (mode === 'longhaul') await longhaul(args[0], Number(args[1]), Number(args[2]))
else await main(Number(mode), Number(args[0]), args.map(Number).slice(1))

async function main(waves, delayMs, levels) {
  const server = spawn(
    process.execPath,
    [fileURLToPath(new URL('concurrency.mjs', import.meta.url)), 'server', String(delayMs)],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  )
  try {
    const [port] = await once(server.stdout, 'data')
    const url = `http://127.0.0.1:${String(port).trim()}`
    for (const concurrency of levels) {
      const items = waves * concurrency
      const runs = {}
      for (const kind of ['bare', 'longhaul']) {
        ;[runs[kind]] = await runScript(fileURLToPath(import.meta.url), [kind, url, String(concurrency), String(items)])
        say(
          `Python, concurrency ${concurrency}, ${kind}: ${items} items in ${runs[kind].wallMs.toFixed(0)} ms, ${(items / (runs[kind].wallMs / 1000)).toFixed(0)} items/s, CPU ${(runs[kind].cpuMs / items).toFixed(2)} ms per item`,
        )
      }
      const rate = (run) => items / (run.wallMs / 1000)
      const ratio = rate(runs.longhaul) / rate(runs.bare)
      emit('python-concurrency', {
        concurrency,
        delayMs,
        items,
        workers: 1,
        longhaul: {
          itemsPerSecond: round(rate(runs.longhaul), 1),
          wallMs: round(runs.longhaul.wallMs, 1),
          afterStartItemsPerSecond: round(runs.longhaul.afterStartItemsPerSecond, 1),
          startMs: round(runs.longhaul.startMs, 1),
          cpuMsPerItem: round(runs.longhaul.cpuMs / items),
        },
        bare: {
          itemsPerSecond: round(rate(runs.bare), 1),
          wallMs: round(runs.bare.wallMs, 1),
          cpuMsPerItem: round(runs.bare.cpuMs / items),
        },
        ratio: round(ratio),
        target: `ratio >= ${RATIO_TARGET}`,
        pass: ratio >= RATIO_TARGET,
      })
    }
  } finally {
    server.kill()
  }
}

/** CPU time of this process and of its children that have ended, ms (/proc/self/stat: utime, stime, cutime, cstime). */
function cpuMs() {
  const fields = readFileSync('/proc/self/stat', 'utf8').split(') ')[1].split(' ')
  return (Number(fields[11]) + Number(fields[12]) + Number(fields[13]) + Number(fields[14])) * 10
}

/** The bare asyncio script, timed from its start to its end (interpreter start-up included, as on longhaul's side). */
function bare(url, concurrency, items) {
  const out = join(scratch(`pyasync-bare-${concurrency}`), 'items.jsonl')
  const started = performance.now()
  const done = spawnSync('python3', [jobPath('pyfetchbare.py'), url, String(concurrency), String(items), out], {
    stdio: 'inherit',
  })
  if (done.status !== 0) throw new Error(`the bare asyncio script exited with ${done.status}`)
  const wallMs = performance.now() - started
  process.stdout.write(`${JSON.stringify({ wallMs, cpuMs: cpuMs() })}\n`)
}

/** The job through longhaul's whole durable path, `concurrency` items in flight in its Python worker. */
async function longhaul(url, concurrency, items) {
  const { runMapJob } = await import('longhaul')
  const timed = await timedRun(runMapJob, {
    jobPath: jobPath('pyfetch.py'),
    outDir: scratch(`pyasync-longhaul-${concurrency}`),
    total: items,
    concurrency,
    params: { url },
  })
  process.stdout.write(`${JSON.stringify({ ...timed, cpuMs: cpuMs() })}\n`)
}
