// What every benchmark shares: where its scratch files go, how a figure is
// printed (one JSON line per result), and the machine it ran on.
import { execFileSync } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs'
import { availableParallelism, cpus, loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'

/** Multiplies every item count; BENCH_SCALE=0.05 gives a quick run. @default 1 */
export const SCALE = Number(process.env.BENCH_SCALE ?? 1)
if (!(SCALE > 0)) throw new Error(`BENCH_SCALE must be a number above 0, got ${process.env.BENCH_SCALE}`)

/** `n` scaled by BENCH_SCALE, at least `min`. */
export function scaled(n, min = 1) {
  return Math.max(min, Math.round(n * SCALE))
}

export function jobPath(name) {
  return new URL(`../jobs/${name}`, import.meta.url).pathname
}

/** A fresh, empty folder under BENCH_TMP (set by run.mjs) or the system's temp folder. */
export function scratch(name) {
  const dir = join(process.env.BENCH_TMP ?? join(tmpdir(), 'longhaul-bench'), name)
  rmSync(dir, { recursive: true, force: true })
  mkdirSync(dir, { recursive: true })
  return dir
}

export function machine() {
  const model = cpus()[0]?.model ?? modelFromCpuinfo()
  return { cpus: availableParallelism(), model, node: process.version }
}

function modelFromCpuinfo() {
  try {
    return /^model name\s*:\s*(.*)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? 'unknown'
  } catch {
    return 'unknown'
  }
}

/** The commit measured, `+dirty` when the working tree had changes. */
export function revision() {
  try {
    return execFileSync('git', ['describe', '--always', '--dirty=+dirty'], {
      cwd: new URL('..', import.meta.url),
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim()
  } catch {
    return 'unknown'
  }
}

/** Prints one result as a JSON line on stdout. */
export function emit(bench, figures) {
  process.stdout.write(
    `${JSON.stringify({ bench, ...figures, date: new Date().toISOString(), machine: machine(), revision: revision() })}\n`,
  )
}

/** Progress for the person watching; stdout is kept for results. */
export function say(message) {
  process.stderr.write(`  ${message}\n`)
}

/** The machine's load average (1, 5 and 15 minutes), as `uptime` prints it: how busy the others kept it. */
export function loadAverage() {
  return loadavg().map((load) => round(load, 2))
}

export function median(values) {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
}

/** Rounds for printing: 3 significant decimals is plenty for a benchmark. */
export function round(value, digits = 3) {
  return Number(value.toFixed(digits))
}

/**
 * Listens for the items a job announces: a TypeScript job on the 'longhaul-bench' BroadcastChannel
 * (jobs/announce.ts), a Python job in the file BENCH_ANNOUNCE_FILE names (jobs/pytrivial.py: lines "index
 * epoch-ms"). `firstMadeMs()` resolves to when the earliest of them was made, in milliseconds after `since` (a
 * performance.now() of this thread), or undefined if none was; it removes that file.
 */
export function watchItemsMade(since) {
  const channel = new BroadcastChannel('longhaul-bench')
  let first = Number.POSITIVE_INFINITY
  const seen = (at) => {
    first = Math.min(first, at - performance.timeOrigin - since)
  }
  channel.onmessage = (event) => seen(event.data.at)
  return {
    async firstMadeMs() {
      // Messages posted just before the run ended may still be on their way.
      await new Promise((resolve) => setTimeout(resolve, 50))
      channel.close()
      const file = process.env.BENCH_ANNOUNCE_FILE
      if (file && existsSync(file)) {
        for (const line of readFileSync(file, 'utf8').split('\n').filter(Boolean)) seen(Number(line.split(' ')[1]))
        rmSync(file, { force: true })
      }
      return Number.isFinite(first) ? first : undefined
    },
  }
}
