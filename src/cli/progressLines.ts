import type { RunObserver } from '../runner/index.ts'
import { count, duration, rate } from './format.ts'

/**
 * One plain, flushed line per interval: works the same in a terminal, under
 * nohup, in CI and through `tee`.
 */
export function progressLines(write: (line: string) => void, intervalMs = 2_000, now: () => number = Date.now): RunObserver {
  let lastPrinted = 0
  let job = ''
  return {
    started(start) {
      job = start.job
      const from = start.resumed ? `resuming at ${count(start.committed)} of ${count(start.total)}` : `${count(start.total)} items`
      if (start.movedAsideTo) write(`[${job}] the previous run was moved to ${start.movedAsideTo}`)
      write(`[${job}] ${from} → ${start.dir} (workers ${start.workers}, seed ${start.seed})`)
    },
    committed(progress) {
      if (now() - lastPrinted < intervalMs && progress.committed < progress.total) return
      lastPrinted = now()
      const percent = ((100 * progress.committed) / progress.total).toFixed(1)
      const perSecond = progress.elapsedMs > 0 ? (progress.committedThisSession * 1000) / progress.elapsedMs : 0
      write(
        `[${job}] ${count(progress.committed)}/${count(progress.total)} (${percent}%) ${rate(perSecond)} items/s` +
          ` elapsed ${duration(progress.elapsedMs)} last commit ${duration(now() - progress.lastCommitAt)} ago`,
      )
    },
    note(message) {
      write(`[${job || 'longhaul'}] ${message}`)
    },
  }
}
