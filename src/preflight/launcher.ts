/**
 * The time a launcher (`npx longhaul …`, `npm exec`, `npm run …`) spends
 * before it starts longhaul: part of the run's start-up as its owner sees
 * it, so a preflight started through one counts it in the projection for the
 * run it suggests, which is started the same way. Read from the process
 * table (Linux): from the start of the npm process that started this one
 * (directly, or through the shell it runs a bin in) to the start of this one.
 * 0 when started otherwise (by a shell, a test runner, a script), or where
 * there is no /proc.
 */
import { readFileSync } from 'node:fs'

/** Clock ticks per second of /proc's start times (USER_HZ, 100 on every Linux that longhaul runs on). */
const TICKS_PER_SECOND = 100
/** How far up the process tree an npm launcher is looked for, through shells only (npm → sh -c → longhaul). */
const MAX_DEPTH = 3

interface ProcessEntry {
  readonly parent: number
  readonly startTicks: number
}

function entryOf(pid: number | 'self'): ProcessEntry | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    // The name (field 2) is in parentheses and may hold spaces: the fields after its last ')' start at field 3.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return { parent: Number(fields[1]), startTicks: Number(fields[19]) }
  } catch {
    return undefined
  }
}

function commandOf(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ')
  } catch {
    return ''
  }
}

// npm names its process after the command it runs: "npm exec longhaul …", "npm run preflight".
const NPM = /^(npm|npx)( |$)|(^|\/)(npm|npx)(-cli\.js)? /
// The shell npm runs a bin or a script in.
const SHELL = /^(\/bin\/|\/usr\/bin\/)?(sh|bash|dash)( |$)/

export function launcherMs(): number {
  const self = entryOf('self')
  if (!self) return 0
  let pid = self.parent
  for (let depth = 0; depth < MAX_DEPTH && pid > 1; depth++) {
    const entry = entryOf(pid)
    if (!entry) return 0
    const command = commandOf(pid)
    if (NPM.test(command)) return Math.max(0, ((self.startTicks - entry.startTicks) * 1000) / TICKS_PER_SECOND)
    if (!SHELL.test(command)) return 0
    pid = entry.parent
  }
  return 0
}
