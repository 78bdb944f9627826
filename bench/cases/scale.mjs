// Scale: what reading a run costs as it grows. For each size, a complete run of that many trivial items (made for
// real, or simulated from a smaller real run: its journal rows and shards repeated at shifted item indices, written
// directly in SQL, shards hard-linked), flushed to disk, then:
//   status   `longhaul status DIR` in a new process, REPS times (after one to warm the file cache): wall ms
//   resume   a flushed copy resumed with --total +100 in a new process (resume.mjs measure): ms from the call to
//            runMapJob to the first new item committed
//   verify   `longhaul verify DIR` in a new process (real runs only: a simulated run's items are not what its
//            journal says) against `cat` of the same files (data/ and the journal) to /dev/null, in the same state
//            of the file cache, alternating: MB/s each; and against the floor of one thread that reads the same
//            files and hashes each item (lib/bareVerify.mjs)
// Wall and CPU time (user + system, all threads, lib/cpuAtExit.mjs) of status and verify: on a busy machine the
// wall time says as much about the neighbours as about longhaul, the CPU time mostly does not.
//   journal  the journal's bytes (with its write-ahead log) per committed item
//
//   node bench/cases/scale.mjs REPS SIZE...     SIZE: an item count, or SIMx<count> to simulate from the largest real run
import { execFileSync } from 'node:child_process'
import { cpSync, linkSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { availableParallelism } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import Database from 'better-sqlite3'
import { runScript } from '../lib/child.mjs'
import { flushed } from '../lib/flushed.mjs'
import { emit, jobPath, loadAverage, median, round, say, scratch } from '../lib/report.mjs'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))
const BIN = join(ROOT, 'bin/longhaul.mjs')
const RESUME = fileURLToPath(new URL('./resume.mjs', import.meta.url))
const BARE_VERIFY = fileURLToPath(new URL('../lib/bareVerify.mjs', import.meta.url))
const CPU_AT_EXIT = fileURLToPath(new URL('../lib/cpuAtExit.mjs', import.meta.url))
const TARGETS = { statusMs: 300, verifyOfCat: 0.8 }
/** Resume to the first new item: 250 ms up to 1,000,000 committed, 500 ms up to 100,000,000. */
const resumeTargetMs = (items) => (items <= 1_000_000 ? 250 : 500)
const workers = availableParallelism()
const job = jobPath('trivial.ts')

const reps = Number(process.argv[2] ?? 3)
const sizes = process.argv.slice(3)
let largestReal
const made = []

for (const size of sizes) {
  const simulated = size.startsWith('SIMx')
  const items = Number(simulated ? size.slice(4) : size)
  const loadBefore = loadAverage()
  const dir = scratch(`scale-${items}`)
  made.push(dir)
  let setupMs
  if (simulated) {
    if (!largestReal) throw new Error(`${size}: simulate from a real run, given first`)
    const began = performance.now()
    simulate(largestReal, dir, items)
    setupMs = performance.now() - began
  } else {
    const { runMapJob } = await import('../lib/longhaul.mjs')
    const run = await runMapJob({ jobPath: job, outDir: dir, total: items, workers })
    if (run.state !== 'complete') throw new Error(`the run of ${items} items ended ${run.state}`)
    setupMs = run.wallMs
  }
  flushed(dir)
  say(`scale ${items}${simulated ? ' (simulated)' : ''}: ready in ${Math.round(setupMs)} ms`)

  const journalBytes = bytesOf(join(dir, '.longhaul'), (name) => name.startsWith('journal.sqlite'))
  const dataBytes = bytesOf(join(dir, 'data'), () => true)

  const statusRuns = series(reps + 1, () => timedNode([BIN, 'status', dir])).slice(1)
  const status = statusRuns.map((run) => run.wallMs)
  say(
    `scale ${items}: status ${status.map(Math.round).join(', ')} ms (CPU ${statusRuns.map((run) => Math.round(run.cpuMs)).join(', ')} ms)`,
  )

  const resumes = []
  for (let rep = 0; rep < reps; rep++) {
    const copy = scratch(`scale-${items}-resume`)
    made.push(copy)
    // Hard links for the shards (a resume never rewrites a recorded one), a copy of the journal.
    copyRun(dir, copy)
    flushed(copy)
    const [run] = await runScript(RESUME, ['measure', copy, String(items), job], {
      env: { BENCH_ANNOUNCE_FROM: String(items) },
      timeoutMs: 900_000,
    })
    resumes.push(run)
    say(
      `scale ${items}: resume, first new item committed ${Math.round(run.firstCommitMs)} ms after the call (opened ${Math.round(run.startedMs)} ms; whole resume ${Math.round(run.wallMs)} ms)`,
    )
  }

  let verify
  if (!simulated) {
    const files = [
      ...readdirSync(join(dir, 'data')).map((name) => join(dir, 'data', name)),
      ...readdirSync(join(dir, '.longhaul'))
        .filter((name) => name.startsWith('journal.sqlite'))
        .map((name) => join(dir, '.longhaul', name)),
    ]
    const bytes = dataBytes + journalBytes
    const catMs = []
    const verifyMs = []
    const verifyCpuMs = []
    const bareMs = []
    timed('cat', files) // warms the file cache: both read what is cached, as the runs left it
    for (let rep = 0; rep < reps; rep++) {
      catMs.push(timed('sh', ['-c', 'cat "$@" > /dev/null', 'cat', ...files]))
      const run = timedNode([BIN, 'verify', dir])
      verifyMs.push(run.wallMs)
      verifyCpuMs.push(run.cpuMs)
      bareMs.push(JSON.parse(execFileSync(process.execPath, [BARE_VERIFY, dir], { cwd: ROOT, encoding: 'utf8' })).ms)
    }
    const mbPerS = (ms) => round(bytes / 1e6 / (ms / 1000), 1)
    verify = {
      bytes,
      verifyMs: round(median(verifyMs), 1),
      catMs: round(median(catMs), 1),
      verifyMBps: mbPerS(median(verifyMs)),
      catMBps: mbPerS(median(catMs)),
      ofCat: round(median(catMs) / median(verifyMs), 3),
      verifyCpuMs: round(median(verifyCpuMs), 1),
      // One thread reading the same files and hashing every item: what verify cannot beat in one thread.
      bareOneThreadMs: round(median(bareMs), 1),
      bareOneThreadMBps: mbPerS(median(bareMs)),
      runs: verifyMs.map((ms, i) => ({
        verifyMs: round(ms, 1),
        verifyCpuMs: round(verifyCpuMs[i], 1),
        catMs: round(catMs[i], 1),
        bareOneThreadMs: round(bareMs[i], 1),
      })),
    }
    say(
      `scale ${items}: verify ${verify.verifyMBps} MB/s (CPU ${verify.verifyCpuMs} ms), cat ${verify.catMBps} MB/s, one thread hashing ${verify.bareOneThreadMBps} MB/s (${bytes} bytes)`,
    )
    largestReal = { dir, items }
  }

  const statusMs = median(status)
  const firstCommitMs = median(resumes.map((run) => run.firstCommitMs))
  const resumeTarget = resumeTargetMs(items)
  emit('scale', {
    items,
    simulated,
    setupMs: round(setupMs, 1),
    statusMs: round(statusMs, 1),
    statusCpuMs: round(median(statusRuns.map((run) => run.cpuMs)), 1),
    statusRuns: status.map((ms) => round(ms, 1)),
    resume: {
      firstItemCommittedMs: round(firstCommitMs, 1),
      openMs: round(median(resumes.map((run) => run.startedMs)), 1),
      cpuMsToFirstCommit: round(median(resumes.map((run) => run.cpuMsToFirstCommit)), 1),
      wallMs: round(median(resumes.map((run) => run.wallMs)), 1),
      runs: resumes.map((run) => round(run.firstCommitMs, 1)),
    },
    ...(verify && { verify }),
    journalBytes,
    journalBytesPerItem: round(journalBytes / items, 2),
    dataBytesPerItem: round(dataBytes / items, 2),
    loadAverage: { before: loadBefore, after: loadAverage() },
    target: `status <= ${TARGETS.statusMs} ms, resume <= ${resumeTarget} ms${verify ? `, verify >= ${TARGETS.verifyOfCat} × cat` : ''}`,
    pass:
      statusMs <= TARGETS.statusMs && firstCommitMs <= resumeTarget && (!verify || verify.ofCat >= TARGETS.verifyOfCat),
  })
}
for (const dir of made) rmSync(dir, { recursive: true, force: true })

/** Wall and CPU ms (all threads) of `node args` run to its end. */
function timedNode(args) {
  const cpuFile = join(made[0], '..', 'scale-cpu')
  rmSync(cpuFile, { force: true })
  const began = performance.now()
  execFileSync(process.execPath, args, {
    cwd: ROOT,
    stdio: 'ignore',
    env: { ...process.env, NODE_OPTIONS: `--import=${CPU_AT_EXIT}`, BENCH_CPU_FILE: cpuFile },
  })
  const wallMs = performance.now() - began
  const cpuMs = Number(readFileSync(cpuFile, 'utf8'))
  rmSync(cpuFile, { force: true })
  return { wallMs, cpuMs }
}

/** The wall ms of `command args` run to its end. */
function timed(command, args) {
  const began = performance.now()
  execFileSync(command, args, { cwd: ROOT, stdio: 'ignore' })
  return performance.now() - began
}

function series(n, fn) {
  return Array.from({ length: n }, fn)
}

function bytesOf(folder, wanted) {
  let sum = 0
  for (const name of readdirSync(folder)) if (wanted(name)) sum += statSync(join(folder, name)).size
  return sum
}

/** `from`'s run folder at `to`: its shards hard-linked, everything else copied. */
function copyRun(from, to) {
  cpSync(join(from, '.longhaul'), join(to, '.longhaul'), { recursive: true })
  for (const name of readdirSync(from)) {
    if (name === '.longhaul' || name === 'data') continue
    cpSync(join(from, name), join(to, name), { recursive: true })
  }
  cpSync(join(from, 'data'), join(to, 'data'), { recursive: true, filter: (src) => !src.endsWith('.jsonl') })
  for (const name of readdirSync(join(from, 'data')))
    if (name.endsWith('.jsonl')) linkSync(join(from, 'data', name), join(to, 'data', name))
}

/**
 * A complete run of `items` items at `to`, made from the real run `real`: its committed ranges repeated at item
 * offsets of real.items (rows written directly in the journal, in one transaction; shards hard-linked under the
 * shifted names), until `items` are committed. Its shards' bytes and item hashes are those of the real run's: enough
 * for status and a resume (which check names, sizes and shards' checksums), not for verify.
 */
function simulate(real, to, items) {
  if (items % real.items !== 0) throw new Error(`simulate ${items} from ${real.items}: not a multiple`)
  copyRun(real.dir, to)
  const db = new Database(join(to, '.longhaul', 'journal.sqlite'))
  db.pragma('journal_mode = WAL')
  db.pragma('synchronous = OFF')
  const rows = db.prepare('SELECT * FROM ranges ORDER BY start').all()
  const columns = Object.keys(rows[0])
  const insert = db.prepare(
    `INSERT INTO ranges (${columns.join(', ')}) VALUES (${columns.map((column) => `@${column}`).join(', ')})`,
  )
  const name = (start, end) => `${String(start).padStart(12, '0')}-${String(end).padStart(12, '0')}.jsonl`
  db.transaction(() => {
    for (let offset = real.items; offset < items; offset += real.items) {
      for (const row of rows) {
        const start = row.start + offset
        const end = row.end + offset
        const files = JSON.parse(row.files).map((file) => {
          const shifted = name(start, end)
          linkSync(join(real.dir, 'data', file.name), join(to, 'data', shifted))
          return { ...file, name: shifted }
        })
        insert.run({ ...row, start, end, files: JSON.stringify(files) })
      }
    }
    db.prepare('UPDATE run SET total = ?, frontier = ? WHERE id = 1').run(items, items)
  })()
  db.pragma('wal_checkpoint(TRUNCATE)')
  db.close()
  // What status reads: the progress file of a complete run of that size.
  const progress = join(to, 'progress.json')
  const snapshot = JSON.parse(readFileSync(progress, 'utf8'))
  writeFileSync(progress, `${JSON.stringify({ ...snapshot, done: items, total: items }, null, 2)}\n`)
}
