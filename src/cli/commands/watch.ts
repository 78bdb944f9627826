import { setTimeout as sleep } from 'node:timers/promises'
import { fetchRunStatus } from '../../dashboard/remote.ts'
import type { RunStatus } from '../../telemetry/readStatus.ts'
import { statusesOf, renderStatus } from './status.ts'
import { EXIT } from '../exitCodes.ts'
import type { Io } from '../io.ts'
import { progressLine } from '../render/progressLine.ts'

const CLEAR = '\x1b[H\x1b[2J'

/**
 * `longhaul watch DIR|URL`: the status, refreshed every second until the run
 * ends (or its owner is gone). A URL is a dashboard's run page or a published
 * progress.json. A terminal is redrawn in place; anything else
 * gets a line each time the run's progress file changes.
 */
export async function watchCommand(target: string, options: { intervalMs?: number }, io: Io, signal?: AbortSignal): Promise<number> {
  const remote = /^https?:\/\//.test(target)
  const read = async (now: number): Promise<RunStatus> => (remote ? fetchRunStatus(target, now, signal) : (await statusesOf([target], now))[0]!)
  const tty = io.outIsTTY
  let lastUpdated = ''
  let unreachable = false
  let first = true
  while (!signal?.aborted) {
    const now = Date.now()
    let s: RunStatus
    try {
      s = await read(now)
    } catch (error) {
      // The first read decides whether the target is usable; later, a network blip is said once and retried.
      if (first || !remote || signal?.aborted) throw error
      if (!unreachable) io.err(`longhaul: ${(error as Error).message}; retrying every ${Math.round((options.intervalMs ?? 1_000) / 1000)}s`)
      unreachable = true
      await sleep(options.intervalMs ?? 1_000, undefined, { signal }).catch(() => undefined)
      continue
    }
    first = false
    unreachable = false
    if (tty) io.out(`${CLEAR}${renderStatus(s, now)}\n\n  (watching; Ctrl-C to stop)`)
    else if (s.snapshot.updatedAt !== lastUpdated) io.out(s.ownerGone ? `${progressLine(s.snapshot, now)} | ${s.summary}` : progressLine(s.snapshot, now))
    lastUpdated = s.snapshot.updatedAt
    if (!s.live) {
      if (tty) io.out('')
      return EXIT.ok
    }
    await sleep(options.intervalMs ?? 1_000, undefined, { signal }).catch(() => undefined)
  }
  return EXIT.interrupted
}
