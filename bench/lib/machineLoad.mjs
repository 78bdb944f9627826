// How busy the machine was with work other than ours: the CPU time the whole
// machine spent (/proc/stat) minus the CPU time of our finished children and
// their descendants (cutime + cstime in /proc/self/stat). Linux only; elsewhere
// every figure is undefined.
import { readFileSync } from 'node:fs'

const TICKS_PER_SECOND = 100

function machineBusyTicks() {
  const [, ...fields] = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0].trim().split(/\s+/)
  const [user, nice, system, , , irq, softirq, steal] = fields.map(Number)
  return user + nice + system + irq + softirq + steal
}

function childrenTicks() {
  const stat = readFileSync('/proc/self/stat', 'utf8')
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return Number(fields[13]) + Number(fields[14]) // cutime, cstime (fields 16 and 17 of the line)
}

function sample() {
  try {
    return { at: performance.now(), machine: machineBusyTicks(), children: childrenTicks() }
  } catch {
    return undefined
  }
}

/** Starts measuring; `stop()` returns the average number of cores others kept busy meanwhile. */
export function watchOtherLoad() {
  const start = sample()
  return {
    stop() {
      const end = sample()
      if (!start || !end) return undefined
      const others = end.machine - start.machine - (end.children - start.children)
      return Math.max(0, others / TICKS_PER_SECOND / ((end.at - start.at) / 1000))
    },
  }
}

/** Waits until others use less than `cores` for a whole second, at most `maxMs`; returns the last reading. */
export async function waitForQuiet(cores, maxMs) {
  const deadline = performance.now() + maxMs
  for (;;) {
    const watch = watchOtherLoad()
    await new Promise((resolve) => setTimeout(resolve, 1000))
    const load = watch.stop()
    if (load === undefined || load < cores || performance.now() >= deadline) return load
  }
}
