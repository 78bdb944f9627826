import { readdirSync, readFileSync } from 'node:fs'

/** The fields of /proc/PID/stat after the command's name (which may hold spaces and parentheses). */
function statFields(pid: number): string[] | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  } catch {
    return undefined
  }
}

/**
 * When process `pid` started, in clock ticks since boot (/proc/PID/stat's
 * 22nd field), as a string; null where there is no /proc. A pid is reused,
 * a pid with its start time is not: together they name one process.
 */
export function startTimeOf(pid: number): string | null {
  return statFields(pid)?.[19] ?? null
}

/**
 * Whether anything of process group `pgid` is alive, zombies aside (a zombie
 * nobody reaps still answers kill(-pgid, 0)). Where there is no /proc, the
 * answer of kill(-pgid, 0).
 */
export function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0)
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
  let entries: string[]
  try {
    entries = readdirSync('/proc')
  } catch {
    return true
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue
    const fields = statFields(Number(entry))
    // fields[0] is the state, fields[2] the process group.
    if (fields && fields[2] === String(pgid) && fields[0] !== 'Z' && fields[0] !== 'X') return true
  }
  return false
}
