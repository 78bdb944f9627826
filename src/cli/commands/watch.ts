import { setTimeout as sleep } from 'node:timers/promises'
import { UsageError } from '../../errors.ts'
import { statusesOf, renderStatus } from './status.ts'
import { EXIT } from '../exitCodes.ts'
import type { Io } from '../io.ts'
import { progressLine } from '../render/progressLine.ts'

const CLEAR = '\x1b[H\x1b[2J'

/**
 * `longhaul watch DIR`: the status, refreshed every second until the run
 * ends (or its owner is gone). A terminal is redrawn in place; anything else
 * gets a line each time the run's progress file changes.
 */
export async function watchCommand(target: string, options: { intervalMs?: number }, io: Io, signal?: AbortSignal): Promise<number> {
  if (/^https?:\/\//.test(target)) throw new UsageError('watching a URL needs the dashboard, which this longhaul does not have yet; give a run folder')
  const tty = io.outIsTTY
  let lastUpdated = ''
  while (!signal?.aborted) {
    const now = Date.now()
    const [status] = await statusesOf([target], now)
    const s = status!
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
