// The child processes of this process, from /proc (Linux): a Python job's
// worker processes are children of the coordinator, and their memory and CPU
// time are not in process.resourceUsage(). Elsewhere every figure is empty.
import { readdirSync, readFileSync } from 'node:fs'

const TICK_MS = 10 // USER_HZ is 100 on Linux

/** The pids of this process's living children (those of every thread). */
export function livingChildren() {
  try {
    return readdirSync(`/proc/${process.pid}/task`).flatMap((tid) =>
      readFileSync(`/proc/${process.pid}/task/${tid}/children`, 'utf8').split(' ').filter(Boolean).map(Number),
    )
  } catch {
    return []
  }
}

/** The fields of /proc/PID/stat after "pid (comm) ": [0] is the state (field 3 of the line). */
function statFields(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ')
}

/** CPU time, ms, of this process's children so far: the living ones (utime + stime) and those reaped (cutime + cstime). */
export function childrenCpuMs() {
  try {
    const own = statFields('self')
    let ticks = Number(own[13]) + Number(own[14])
    for (const pid of livingChildren()) {
      try {
        const fields = statFields(pid)
        ticks += Number(fields[11]) + Number(fields[12])
      } catch {
        // it ended meanwhile
      }
    }
    return ticks * TICK_MS
  } catch {
    return undefined
  }
}

/** A process's peak resident memory so far (VmHWM), KiB; undefined once it is gone. */
function peakRssKiB(pid) {
  try {
    const match = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
    return match ? Number(match[1]) : undefined
  } catch {
    return undefined
  }
}

/**
 * Watches the peak resident memory (VmHWM) of every child of this process, every `intervalMs`. `stop()` returns
 * one peak per child seen, in KiB, largest first. VmHWM only grows, so the last reading of a child is its peak up to
 * then: what it reached in its last `intervalMs` before it ended is missed.
 */
export function watchChildrenPeakRss(intervalMs = 20) {
  const peaks = new Map()
  const poll = () => {
    for (const pid of livingChildren()) {
      const kib = peakRssKiB(pid)
      if (kib !== undefined) peaks.set(pid, Math.max(peaks.get(pid) ?? 0, kib))
    }
  }
  const timer = setInterval(poll, intervalMs)
  return {
    /** Takes a last reading now (call it while the children still live, if you can). */
    poll,
    stop() {
      clearInterval(timer)
      poll()
      return [...peaks.values()].sort((a, b) => b - a)
    },
  }
}
