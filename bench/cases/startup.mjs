// Start-up: how soon the installed command answers. REPS times each, in a new process:
//   help    `longhaul --help` (node bin/longhaul.mjs) beside `node -e 0` (Node's own start), and through npx (`npx longhaul
//           --help`, npm's own start-up included)
//   status  `longhaul status DIR` of a finished run of 100 items
//   run     `longhaul run` of the trivial job, 100 items, 2 workers, into a new folder each time: the whole command, as
//           the tests spawn it
//   worker  `longhaul worker` joining a run whose journal is in PostgreSQL: the CPU time of all its threads from its
//           start to its first claim (read from /proc/PID/stat the moment the claim appears in longhaul.claims,
//           polled every 5 ms; the figure may include up to that much work on its first items)
// Wall times and CPU times (user + system, from process.cpuUsage() at exit, all threads) are both given: wall time
// also measures whoever else is using the machine, CPU time mostly does not.
//
//   node bench/cases/startup.mjs REPS [PARTS]     PARTS: a comma-separated subset of help,status,run,worker (default: all)
//
// BENCH_LONGHAUL=/path/to/a/checkout measures that checkout's longhaul (built) with this script: before and after
// side by side.
import { execFileSync, spawn } from 'node:child_process'
import { readFileSync, rmSync } from 'node:fs'
import { hostname } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import pg from 'pg'
import { startPostgres } from '../lib/postgres.mjs'
import { emit, median, round, say, scratch } from '../lib/report.mjs'

const ROOT = process.env.BENCH_LONGHAUL ?? fileURLToPath(new URL('../..', import.meta.url))
const BIN = join(ROOT, 'bin/longhaul.mjs')
/** The measured checkout's bench job, so that its `import 'longhaul'` is that checkout's. */
const jobPath = (name) => join(ROOT, 'bench/jobs', name)
const CPU_AT_EXIT = fileURLToPath(new URL('../lib/cpuAtExit.mjs', import.meta.url))
const TARGETS = { helpMs: 150, statusMs: 300, workerCpuMs: 300 }

const reps = Number(process.argv[2] ?? 10)
const parts = (process.argv[3] ?? 'help,status,run,worker').split(',')
const dir = scratch('startup')

/** One run of `command args` (a function of the run's number) to its end: wall ms and, for node, its CPU ms (all threads). */
let runs = 0
function timed(command, argsOf) {
  const args = typeof argsOf === 'function' ? argsOf(runs++) : argsOf
  const cpuFile = join(dir, 'cpu')
  rmSync(cpuFile, { force: true })
  const began = performance.now()
  execFileSync(command, args, {
    cwd: ROOT,
    stdio: 'ignore',
    env: { ...process.env, NODE_OPTIONS: `--import=${CPU_AT_EXIT}`, BENCH_CPU_FILE: cpuFile },
  })
  const wallMs = performance.now() - began
  let cpuMs
  try {
    cpuMs = Number(readFileSync(cpuFile, 'utf8'))
  } catch {}
  return { wallMs, cpuMs }
}

function series(name, command, args) {
  timed(command, args) // a first run warms the file cache
  const runs = Array.from({ length: reps }, () => timed(command, args))
  const figures = {
    wallMs: round(median(runs.map((r) => r.wallMs)), 1),
    minWallMs: round(Math.min(...runs.map((r) => r.wallMs)), 1),
    cpuMs: round(median(runs.map((r) => r.cpuMs ?? Number.NaN)), 1),
  }
  say(`startup ${name}: ${figures.wallMs} ms wall (min ${figures.minWallMs}), ${figures.cpuMs} ms CPU`)
  return figures
}

try {
  const figures = {}
  if (parts.includes('help')) {
    // Node's own start, measured beside it: on a shared machine it moves with the load, and longhaul's share of
    // `--help` is the difference.
    figures.nodeAlone = series('node -e 0', process.execPath, ['-e', '0'])
    figures.help = series('help', process.execPath, [BIN, '--help'])
    figures.npxHelp = series('npx help', 'npx', ['--no-install', 'longhaul', '--help'])
    // npm's own start-up, which `npx longhaul` pays before longhaul starts.
    figures.npxItself = series('npx itself', 'npx', ['--version'])
  }
  if (parts.includes('status')) {
    const run = join(dir, 'run')
    execFileSync(process.execPath, [BIN, 'run', jobPath('trivial.ts'), '--out', run, '--total', '100'], {
      cwd: ROOT,
      stdio: 'ignore',
    })
    figures.status = series('status', process.execPath, [BIN, 'status', run])
  }
  if (parts.includes('run'))
    figures.run = series('run', process.execPath, (n) => [
      BIN,
      'run',
      jobPath('trivial.ts'),
      '--out',
      join(dir, `small-${n}`),
      '--total',
      '100',
      '--workers',
      '2',
    ])
  if (parts.includes('worker')) figures.worker = await workerToFirstClaim()
  const { help, status, worker } = figures
  emit('startup', {
    reps,
    ...figures,
    target: `help <= ${TARGETS.helpMs} ms, status <= ${TARGETS.statusMs} ms, worker <= ${TARGETS.workerCpuMs} ms CPU to its first claim`,
    pass:
      (!help || help.wallMs <= TARGETS.helpMs) &&
      (!status || status.wallMs <= TARGETS.statusMs) &&
      (!worker || worker.cpuMs <= TARGETS.workerCpuMs),
  })
} finally {
  rmSync(dir, { recursive: true, force: true })
}

/** CPU ms of all threads of process `pid` so far (utime + stime, clock ticks of 10 ms). */
function cpuOf(pid) {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ')
  return (Number(fields[11]) + Number(fields[12])) * 10
}

async function workerToFirstClaim() {
  const server = await startPostgres()
  const url = await server.createDatabase('startup')
  const job = jobPath('remote.ts')
  const shared = join(dir, 'shared')
  const owner = spawn(
    process.execPath,
    [
      BIN,
      'run',
      job,
      '--out',
      shared,
      '--store',
      url,
      '--total',
      '100000',
      '--workers',
      '1',
      '--param',
      'ms=20',
      '--skip-preflight',
    ],
    { cwd: ROOT, stdio: 'ignore' },
  )
  const db = new pg.Client({ connectionString: url })
  const started = []
  try {
    const runId = await until(() => JSON.parse(readFileSync(join(shared, '.longhaul/store.json'), 'utf8')).runId)
    await db.connect()
    const runs = []
    for (let rep = 0; rep < reps; rep++) {
      const began = performance.now()
      const worker = spawn(
        process.execPath,
        [BIN, 'worker', job, '--run', runId, '--store', url, '--out', shared, '--workers', '1'],
        { cwd: ROOT, stdio: 'ignore' },
      )
      started.push(worker)
      // A claim is named host:pid (claimNameOf).
      const name = `${hostname()}:${worker.pid}`
      const cpuMs = await until(async () => {
        const claims = await db.query('SELECT 1 FROM longhaul.claims WHERE worker = $1 LIMIT 1', [name])
        return claims.rowCount ? cpuOf(worker.pid) : undefined
      }, 5)
      const wallMs = performance.now() - began
      worker.kill('SIGKILL')
      await new Promise((resolve) => worker.once('close', resolve))
      runs.push({ cpuMs, wallMs })
      say(`startup worker: first claim after ${cpuMs} ms CPU, ${wallMs.toFixed(0)} ms wall`)
    }
    return {
      cpuMs: median(runs.map((r) => r.cpuMs)),
      wallMs: round(median(runs.map((r) => r.wallMs)), 1),
    }
  } finally {
    for (const child of [owner, ...started]) child.kill('SIGKILL')
    await db.end().catch(() => undefined)
    server.stop()
  }
}

/** Polls `probe` until it returns a value (errors count as not yet), for at most 60 s. */
async function until(probe, everyMs = 50) {
  const deadline = Date.now() + 60_000
  for (;;) {
    try {
      const value = await probe()
      if (value !== undefined) return value
    } catch {}
    if (Date.now() > deadline) throw new Error('startup: timed out waiting for the run')
    await new Promise((resolve) => setTimeout(resolve, everyMs))
  }
}
