// What every benchmark shares: where its scratch files go, how a figure is
// printed (one JSON line per result), and the machine it ran on.
import { execFileSync } from 'node:child_process'
import { mkdirSync, readFileSync, rmSync } from 'node:fs'
import { availableParallelism, cpus, tmpdir } from 'node:os'
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
 * Listens for the items a job announces (jobs/announce.ts). `firstMadeMs()`
 * resolves to when the earliest of them was made, in milliseconds after
 * `since` (a performance.now() of this thread), or undefined if none was.
 */
export function watchItemsMade(since) {
  const channel = new BroadcastChannel('longhaul-bench')
  let first = Number.POSITIVE_INFINITY
  channel.onmessage = (event) => {
    first = Math.min(first, event.data.at - performance.timeOrigin - since)
  }
  return {
    async firstMadeMs() {
      // Messages posted just before the run ended may still be on their way.
      await new Promise((resolve) => setTimeout(resolve, 50))
      channel.close()
      return Number.isFinite(first) ? first : undefined
    },
  }
}
