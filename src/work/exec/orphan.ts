import { existsSync } from 'node:fs'
import { hostname } from 'node:os'
import { setTimeout as sleep } from 'node:timers/promises'
import { LonghaulError, UsageError } from '../../errors.ts'
import { runPaths } from '../../files/runPaths.ts'
import { type JournalFile, openStore } from '../../journal/openStore.ts'
import type { Store } from '../../journal/store.ts'
import { takeOwnership } from '../../run/ownership.ts'
import { duration } from '../../telemetry/progressText.ts'
import { groupAlive, startTimeOf } from './processes.ts'

/** How long a SIGKILLed group may take to go. */
const KILL_WAIT_MS = 5_000

/**
 * A program whose supervisor was killed may still run (invariant
 * exec-runs-once): its pid and start time were journaled before it was let
 * run, so it is found here, and it is stopped (its whole process group:
 * SIGTERM, SIGKILL after `graceMs`) before a new life can start, never run
 * beside it. Journals `orphan-stopped`. Throws LONGHAUL_RUN_OWNED when it
 * cannot be stopped (another user's process).
 */
export async function stopOrphan(
  store: Store,
  dir: string,
  graceMs: number,
  note: (message: string) => void,
): Promise<void> {
  const events = await store.events()
  const started = events.findLast((e) => e.type === 'program-started')
  if (!started) return
  const pid = Number(started.detail.pid)
  const startTime = typeof started.detail.startTime === 'string' ? started.detail.startTime : null
  const ended = events.some(
    (e) => (e.type === 'program-exited' || e.type === 'orphan-stopped') && e.at >= started.at && e.detail.pid === pid,
  )
  if (ended || started.detail.host !== hostname()) return
  // Its group is its pid. A pid alive with another start time is another process now, and its group not ours.
  const alive = (): boolean => !reused(pid, startTime) && groupAlive(pid)
  if (!alive()) return
  note(
    `the program an earlier longhaul exec started (pid ${pid}, since ${new Date(started.at).toISOString()}) is still running without its supervisor; stopping it and what it started (SIGTERM, SIGKILL after ${duration(graceMs / 1000)}) before starting it again`,
  )
  const send = (signal: NodeJS.Signals): void => {
    try {
      process.kill(-pid, signal)
    } catch {
      // Gone already, or not ours to signal (then it stays alive, and that is said below).
    }
  }
  send('SIGTERM')
  let killed = false
  for (const [deadline, next] of [
    [Date.now() + graceMs, 'SIGKILL'],
    [Date.now() + graceMs + KILL_WAIT_MS, undefined],
  ] as const) {
    while (alive() && Date.now() < deadline) await sleep(50)
    if (!alive()) break
    if (next) {
      send(next)
      killed = true
    }
  }
  if (alive()) {
    throw new UsageError(
      `the program an earlier longhaul exec started in ${dir} (pid ${pid}, since ${new Date(started.at).toISOString()}) is still running without its supervisor, and longhaul cannot stop it. ` +
        `Stop it (kill ${pid}) or let it finish, then run this command again.`,
      'LONGHAUL_RUN_OWNED',
    )
  }
  await store.addEvent('orphan-stopped', { pid, killed }, Date.now())
}

function reused(pid: number, startTime: string | null): boolean {
  const now = startTimeOf(pid)
  return startTime !== null && now !== null && now !== startTime
}

/**
 * Before `--fresh` sets an earlier run aside: its program, left running by a
 * killed supervisor, is stopped too, or the fresh run would start a second
 * copy beside it. A live supervisor of that run makes this refuse
 * (RunOwnedError) before anything is moved. A journal that cannot be read
 * recorded no program to look for.
 */
export async function stopOrphanBeforeFresh(
  dir: string,
  ttlMs: number,
  graceMs: number,
  note: (message: string) => void,
): Promise<void> {
  const { journal } = runPaths(dir)
  if (!existsSync(journal)) return
  let store: JournalFile | undefined
  try {
    store = await openStore({ file: journal })
    const lease = await takeOwnership(store, dir, ttlMs, Date.now())
    try {
      await stopOrphan(store, dir, graceMs, note)
    } finally {
      await store.releaseOwner(lease.token).catch(() => undefined)
    }
  } catch (error) {
    // A live owner, or an orphan that cannot be stopped, is said; a damaged journal is --fresh's to set aside.
    if (error instanceof LonghaulError && error.code === 'LONGHAUL_RUN_OWNED') throw error
  } finally {
    await store?.close().catch(() => undefined)
  }
}
