import { setTimeout as sleep } from 'node:timers/promises'
import { fetchRunStatus } from '../../dashboard/remote.ts'
import { StoreUnavailableError } from '../../errors.ts'
import type { RunStatus } from '../../run/runStatus.ts'
import { EXIT } from '../exitCodes.ts'
import type { Io } from '../io.ts'
import { progressLine } from '../render/progressLine.ts'
import { renderStatus, statusesOf } from './status.ts'

const CLEAR = '\x1b[H\x1b[2J'

/**
 * `longhaul watch DIR|URL`: the status, refreshed every second until the run
 * ends (or its owner is gone). A URL is a dashboard's run page or a published
 * progress.json. A terminal is redrawn in place; anything else
 * gets a line each time the run moves (its progress file changes, or a shared
 * run's journal counts new commits).
 */
export async function watchCommand(
  target: string,
  options: { intervalMs?: number },
  io: Io,
  signal?: AbortSignal,
): Promise<number> {
  const remote = /^https?:\/\//.test(target)
  const read = async (now: number): Promise<RunStatus> =>
    remote ? fetchRunStatus(target, now, signal) : (await statusesOf([target], now))[0]!
  const tty = io.outIsTTY
  let lastShown = ''
  let unreachable = false
  let first = true
  while (!signal?.aborted) {
    const now = Date.now()
    let s: RunStatus
    try {
      s = await read(now)
    } catch (error) {
      // The first read decides whether the target is usable; later, a network blip (the dashboard's, or a shared
      // run's database) is said once and retried.
      if (first || !(remote || error instanceof StoreUnavailableError) || signal?.aborted) throw error
      if (!unreachable)
        io.err(
          `longhaul: ${(error as Error).message}; retrying every ${Math.round((options.intervalMs ?? 1_000) / 1000)}s`,
        )
      unreachable = true
      await sleep(options.intervalMs ?? 1_000, undefined, { signal }).catch(() => undefined)
      continue
    }
    first = false
    unreachable = false
    if (tty) io.out(`${CLEAR}${renderStatus(s, now)}\n\n  (watching; Ctrl-C to stop)`)
    else {
      // A line when the run moves: its file is rewritten, or (a shared run whose owner is gone) its workers commit or leave.
      const shown = `${s.snapshot.updatedAt} ${s.snapshot.done} ${s.shared?.workers.length ?? ''}`
      const explain = s.ownerGone || s.shared?.ownerAlive === false
      if (shown !== lastShown)
        io.out(explain ? `${progressLine(s.snapshot, now)} | ${s.summary}` : progressLine(s.snapshot, now))
      lastShown = shown
    }
    if (!s.live) {
      if (tty) io.out('')
      return EXIT.ok
    }
    await sleep(options.intervalMs ?? 1_000, undefined, { signal }).catch(() => undefined)
  }
  return EXIT.interrupted
}
