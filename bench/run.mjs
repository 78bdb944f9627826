// `npm run bench`: runs each benchmark of DESIGN §5 in a child process of its
// own (so that peak memory is per benchmark), prints their JSON lines on
// stdout, and a summary table on stderr.
//
//   npm run bench                          all of them
//   npm run bench -- throughput resume     some of them (overhead, throughput, resume, memory, speedup, postgres, python, concurrency, eta, inputs, startup, ratelimit, paidcalls, preflightcost, dashboard, scale)
//   BENCH_SCALE=0.05 npm run bench         a quick run with fewer items
//   BENCH_TMP=/path npm run bench          scratch folder (default: the system temp folder)
//
// Before each benchmark it waits (up to BENCH_QUIET_WAIT_S seconds, default 10)
// for the machine to be idle, and each result records how many cores other
// processes kept busy while it ran (`otherCpuCores`); above 0.1 it is marked
// `contended`, and its figures say more about the neighbours than about longhaul.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { setup as buildIfStale } from '../scripts/build.mjs'
import { runScript } from './lib/child.mjs'
import { waitForQuiet, watchOtherLoad } from './lib/machineLoad.mjs'
import { scaled } from './lib/report.mjs'

const cases = (name) => fileURLToPath(new URL(`./cases/${name}.mjs`, import.meta.url))

/** Every benchmark: its name, script and arguments (and its time limit, if not 5 minutes). Sizes follow BENCH_SCALE. */
const BENCHMARKS = [
  { name: 'overhead', script: cases('overhead'), args: [1000, scaled(20_000, 100), 1] },
  { name: 'overhead', script: cases('overhead'), args: [10, scaled(200_000, 1000), 3] },
  { name: 'throughput', script: cases('throughput'), args: [scaled(1_000_000, 1000), 3] },
  { name: 'resume', script: cases('resume'), args: [scaled(1_000_000, 1000), 3] },
  { name: 'memory', script: cases('memory'), args: [10_000, scaled(1_000_000, 10_000)] },
  { name: 'speedup', script: cases('speedup'), args: ['cpu', scaled(3_000, 20), 2] },
  { name: 'speedup', script: cases('speedup'), args: ['trajectories', scaled(1_000, 20), 2] },
  { name: 'postgres', script: cases('postgres'), args: [scaled(100_000, 1000), 1000, 0.5], timeoutMs: 600_000 },
  // Items that wait 2 ms on another service: batches of 250 take 0.5 s, pg-boss's shortest polling interval, so its worker seldom waits for nothing.
  { name: 'postgres', script: cases('postgres'), args: [scaled(5_000, 200), 250, 0.5, 2], timeoutMs: 600_000 },
  // A Python job (jobs/pybusy.py) against a bare Python loop, 1 ms items; then its speed-up with one worker per core.
  {
    name: 'python',
    script: cases('python'),
    args: [1, scaled(5_000, 100), 5, scaled(4_000, 50), 3],
    timeoutMs: 900_000,
  },
  // A Python job (jobs/pytrivial.py) resumed with 1,000,000 items committed; its peak memory, coordinator and workers, at 10,000 and 1,000,000.
  { name: 'python', script: cases('resume'), args: [scaled(1_000_000, 1000), 3, 'pytrivial.py', 500] },
  { name: 'python', script: cases('memory'), args: [10_000, scaled(1_000_000, 10_000), 'pytrivial.py'] },
  // A Python asyncio job (jobs/pyfetch.py) against a bare asyncio script: one HTTP call per item answered after 200 ms, 64 in flight.
  { name: 'python', script: cases('pyasync'), args: [scaled(50, 5), 200, 64], timeoutMs: 600_000 },
  // Items that each make one HTTP call answered after 200 ms, 64 and 256 in flight, against a bare promise pool.
  { name: 'concurrency', script: cases('concurrency'), args: [scaled(100, 5), 200, 64, 256], timeoutMs: 600_000 },
  { name: 'eta', script: cases('eta'), args: [20] },
  // One record of 10, 20 and 40 MB, and the same sizes in short records: time per MB must not grow with the size.
  { name: 'inputs', script: cases('inputs'), args: [3, ...[10, 20, 40].map((mb) => scaled(mb))] },
  // --help, status and a joining worker, each started 10 times (npx and a PostgreSQL server included).
  { name: 'startup', script: cases('startup'), args: [10], timeoutMs: 900_000 },
  // 1,200 calls at a limit of 2,400/min (about 30 s), from 2 worker threads sharing the limiter.
  { name: 'ratelimit', script: cases('ratelimit'), args: [2400, scaled(1_200, 100), 2] },
  // examples/llm-batch against the fake chat endpoint (200 ms answers), 64 in flight at 100/s, SIGKILLed 3 times at
  // random moments and resumed: calls paid twice per kill, at the job's checkpoint interval (10 s) and at 1 s.
  { name: 'paidcalls', script: cases('paidcalls'), args: [scaled(3_000, 1_500), 3, 200, 64, 100, 10] },
  { name: 'paidcalls', script: cases('paidcalls'), args: [scaled(3_000, 1_500), 3, 200, 64, 100, 1] },
  // Preflight's wall time against the projected duration of the run it proves: 5 ms items on one worker per core,
  // targets projected to about 1, 5 and 12 minutes.
  {
    name: 'preflightcost',
    script: cases('preflightcost'),
    args: [5000, scaled(20_000, 200), scaled(120_000, 1_000), scaled(300_000, 2_000)],
    timeoutMs: 1_800_000,
  },
  // The dashboard over 500 runs: /api/runs and the list's first paint in Chromium, and the bytes of one change.
  { name: 'dashboard', script: cases('dashboard'), args: [500, 5] },
  // Reading a run as it grows: status, resume to the first new item and verify (against cat) at 1,000,000 and
  // 10,000,000 committed items, and resume and status at 100,000,000 simulated from the 10,000,000-item run.
  {
    name: 'scale',
    script: cases('scale'),
    args: [3, scaled(1_000_000, 1000), scaled(10_000_000, 10_000), `SIMx${scaled(100_000_000, 100_000)}`],
    timeoutMs: 1_800_000,
  },
]
const QUIET_CORES = 0.1

const chosen = process.argv.slice(2)
const unknown = chosen.filter((name) => !BENCHMARKS.some((bench) => bench.name === name))
if (unknown.length) {
  console.error(
    `unknown benchmark(s): ${unknown.join(', ')}. Choose from: ${[...new Set(BENCHMARKS.map((bench) => bench.name))].join(', ')}`,
  )
  process.exit(2)
}
// The benchmarks run the CLI from dist/: rebuilt first when anything under src/ changed, so no figure is of stale code.
buildIfStale()
const quietWaitMs = Number(process.env.BENCH_QUIET_WAIT_S ?? 10) * 1000
const scratch = process.env.BENCH_TMP ?? mkdtempSync(join(tmpdir(), 'longhaul-bench-'))

const results = []
let failed = 0
const began = performance.now()
try {
  for (const bench of BENCHMARKS.filter((b) => chosen.length === 0 || chosen.includes(b.name))) {
    const args = bench.args.map(String)
    const idle = await waitForQuiet(QUIET_CORES, quietWaitMs)
    console.error(
      `▶ ${bench.name} ${args.join(' ')}${idle !== undefined && idle >= QUIET_CORES ? ` (the machine is not idle: others use ${idle.toFixed(2)} cores)` : ''}`,
    )
    const load = watchOtherLoad()
    try {
      const lines = await runScript(bench.script, args, {
        env: { BENCH_TMP: scratch },
        ...(bench.timeoutMs && { timeoutMs: bench.timeoutMs }),
      })
      const otherCpuCores = load.stop()
      for (const line of lines) {
        const result = {
          ...line,
          ...(otherCpuCores !== undefined && {
            otherCpuCores: Number(otherCpuCores.toFixed(2)),
            contended: otherCpuCores > QUIET_CORES,
          }),
        }
        results.push(result)
        process.stdout.write(`${JSON.stringify(result)}\n`)
      }
    } catch (error) {
      failed++
      console.error(`✗ ${bench.name}: ${error.message}`)
    }
  }
} finally {
  if (!process.env.BENCH_TMP) rmSync(scratch, { recursive: true, force: true })
}
console.error(
  `\n${summary(results)}\n${((performance.now() - began) / 1000).toFixed(0)} s${failed ? `, ${failed} benchmark(s) failed` : ''}`,
)
process.exitCode = failed ? 1 : 0

/** A markdown table of the headline figure of each result. */
function summary(rows) {
  const headline = {
    overhead: (r) => [
      `overhead, ${r.itemUs} µs items`,
      `${r.ratio}× bare (${r.durableMs} vs ${r.bareMs} ms, ${r.items} items)`,
    ],
    throughput: (r) => ['throughput', `${r.itemsPerSecond.toLocaleString('en')} items/s (${r.workers} workers)`],
    resume: (r) => ['resume to first new item', `${r.firstItemCommittedMs} ms committed, ${r.firstItemMadeMs} ms made`],
    memory: (r) => ['peak memory', `${r.ratio}× (${r.largePeakRssMiB} vs ${r.smallPeakRssMiB} MiB)`],
    speedup: (r) => [
      `speed-up, ${r.job}`,
      `${r.speedup}× on ${r.cores} cores${r.bareThreadsSpeedup ? ` (bare threads ${r.bareThreadsSpeedup}×)` : ''}`,
    ],
    'python-overhead': (r) => [
      `Python job vs bare loop, ${r.itemMs} ms items`,
      `${r.overheadPct}% (${r.durableMs} vs ${r.bareMs} ms, ${r.items} items; CPU ${r.durablePythonCpuMs} + ${r.durableNodeCpuMs} vs ${r.bareCpuMs} ms)`,
    ],
    'python-speedup': (r) => [
      'speed-up, Python job',
      `${r.speedup}× on ${r.cores} cores (${r.speedupAfterStart}× after start-up; bare Python processes ${r.bareProcessesSpeedup}×; load ${r.loadAverage?.before[0]} → ${r.loadAverage?.after[0]})`,
    ],
    'python-resume': (r) => [
      `resume of a Python job, ${r.committedBefore.toLocaleString('en')} committed`,
      `${r.firstItemCommittedMs} ms committed, ${r.firstItemMadeMs} ms made (${r.firstItemCommittedFromProcessStartMs} ms from the process start)`,
    ],
    'python-memory': (r) => [
      `peak memory, Python job, ${r.largeItems.toLocaleString('en')} vs ${r.smallItems.toLocaleString('en')}`,
      `coordinator ${r.coordinator.ratio}× (${r.coordinator.largePeakRssMiB} vs ${r.coordinator.smallPeakRssMiB} MiB), Python worker ${r.pythonWorker.ratio}× (${r.pythonWorker.largePeakRssMiB[0]} vs ${r.pythonWorker.smallPeakRssMiB[0]} MiB)`,
    ],
    postgres: (r) => [
      `vs pg-boss, ${r.itemMs ? `${r.itemMs} ms items, ` : ''}${r.processes} process(es)`,
      `${r.ratio}× pg-boss work (${r.longhaul.itemsPerSecond.toLocaleString('en')} vs ${r.pgboss.itemsPerSecond.toLocaleString('en')} items/s); ${r.ratioFetchLoop}× its fetch loop (${r.pgbossFetchLoop.itemsPerSecond.toLocaleString('en')}/s)`,
    ],
    inputs: (r) => [
      `${r.input} input, ${r.shape}`,
      `${r.sizes.map((size) => `${size.mb} MB: scan ${size.scanMs} ms, read ${size.readMs} ms`).join('; ')} (CPU per MB at the largest size ×${r.scanCpuPerMbRatio} scan, ×${r.readCpuPerMbRatio} read)`,
    ],
    startup: (r) => [
      'start-up (--help, status, worker)',
      `--help ${r.help.wallMs} ms (${r.help.cpuMs} ms CPU; npx ${r.npxHelp.wallMs} ms, npm itself ${r.npxItself.wallMs}), status ${r.status.wallMs} ms, worker ${r.worker.cpuMs} ms CPU to its first claim`,
    ],
    ratelimit: (r) => [
      `rate limit ${r.perMinute}/min, ${r.workers} threads`,
      `${r.callsPerMinute} calls/min (${Math.round(r.ofLimit * 1000) / 10}%), ${r.overInBusiestMinute} over in a minute, ${r.overInBusiestSecondProRata} over N/60 in a second; take ${r.takeNs} ns vs message ${r.messageRoundTripNs} ns`,
    ],
    paidcalls: (r) => [
      `paid calls after SIGKILL, ${r.concurrency} in flight at ${r.ratePerS}/s, checkpoint ${r.checkpointS} s`,
      `made twice per kill ${r.repeatedPerKill.join(', ')} (bound ${r.bound}); each prompt once: ${r.eachPromptOnce}, verify clean: ${r.verified}`,
    ],
    preflightcost: (r) => [
      `preflight's cost, ${r.items.toLocaleString('en')} items of ${r.itemUs / 1000} ms`,
      `${r.preflightSeconds} s against a projected run of ${r.projectedRunSeconds} s (${(100 * r.share).toFixed(1)}%)`,
    ],
    'python-concurrency': (r) => [
      `Python, ${r.delayMs} ms calls, ${r.concurrency} in flight`,
      `${r.ratio}× a bare asyncio script (${r.longhaul.itemsPerSecond.toLocaleString('en')} vs ${r.bare.itemsPerSecond.toLocaleString('en')} items/s; CPU ${r.longhaul.cpuMsPerItem} vs ${r.bare.cpuMsPerItem} ms per item)`,
    ],
    concurrency: (r) => [
      `${r.delayMs} ms calls, ${r.concurrency} in flight`,
      `${r.ratio}× a bare promise pool (${r.longhaul.itemsPerSecond.toLocaleString('en')} vs ${r.bare.itemsPerSecond.toLocaleString('en')} items/s), peak RSS ${r.longhaul.peakRssMiB} MiB`,
    ],
    dashboard: (r) => [
      `dashboard, ${r.runs} runs`,
      `/api/runs ${r.apiRunsMs} ms (${r.apiRunsKiB} KiB; a scan of the root ${r.scanMs} ms), first paint ${r.firstPaintMs ?? 'not measured'} ms, every row ${r.allRowsMs ?? '?'} ms (${r.allRowsCpuMs ?? '?'} ms CPU), one change ${r.diffBytes} bytes`,
    ],
    scale: (r) => [
      `${r.items.toLocaleString('en')} committed${r.simulated ? ' (simulated)' : ''}`,
      `status ${r.statusMs} ms, resume ${r.resume.firstItemCommittedMs} ms${r.verify ? `, verify ${r.verify.verifyMBps} MB/s vs cat ${r.verify.catMBps} (${r.verify.ofCat}×)` : ''}, journal ${r.journalBytesPerItem} B/item`,
    ],
    eta: (r) => [
      `ETA error, ${r.trace} trace`,
      `${r.ours.meanAbsErrorS} s vs tqdm ${r.tqdm.meanAbsErrorS} s (interval held the truth at ${Math.round(r.ours.coverage * 100)}% of the points)`,
    ],
  }
  const lines = ['| benchmark | figure | target | met | others busy |', '|---|---|---|---|---|']
  for (const row of rows) {
    const [what, figure] = headline[row.bench](row)
    const met = row.pass === undefined ? '—' : row.pass ? 'yes' : '**no**'
    lines.push(`| ${what} | ${figure} | ${row.target} | ${met} | ${row.otherCpuCores ?? '?'} cores |`)
  }
  return lines.join('\n')
}
