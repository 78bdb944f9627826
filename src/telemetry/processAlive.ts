import { readFileSync } from 'node:fs'

/**
 * True while process `pid` exists on this host and is not a zombie (a killed
 * process nobody has reaped yet still answers kill(pid, 0) on Linux).
 */
export function processAlive(pid: number): boolean {
  if (pid === process.pid) return true
  try {
    process.kill(pid, 0)
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    return !stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z')
  } catch {
    return true
  }
}
