import { createRequire } from 'node:module'
import type cliProgress from 'cli-progress'
import type { RunObserver } from '../../run/observer.ts'
import { count, duration, etaText, rate } from '../../telemetry/progressText.ts'
import type { ProgressSnapshot } from '../../telemetry/snapshot.ts'
import { progressLine } from './progressLine.ts'

export interface DisplayOptions {
  /** Where lines and the bar go (stderr, so stdout stays for results). */
  readonly stream: NodeJS.WriteStream
  /** A live bar on a terminal; one plain line per refresh interval otherwise. */
  readonly tty: boolean
  readonly now?: () => number
}

/**
 * How a run shows itself in the terminal. On a TTY: one live bar. Anywhere
 * else (nohup, CI, `| tee`): one plain line per refresh interval and per
 * change of state, written straight away.
 */
export function runDisplay(options: DisplayOptions): RunObserver & { close(): void } {
  const now = options.now ?? Date.now
  let last: { total: number; value: number; payload: Record<string, string> } | undefined
  const write = (line: string): void => {
    if (bar && last) {
      // The bar redraws from where it started: stop it, print, start it again below.
      bar.stop()
      options.stream.write(`${line}\n`)
      bar.start(last.total, last.value, last.payload)
    } else {
      options.stream.write(`${line}\n`)
    }
  }
  let job = ''
  let bar: cliProgress.SingleBar | undefined
  if (options.tty) {
    // The bar's package (about 35 ms of CPU to load) only where a bar is drawn: not for nohup, CI or a pipe.
    const { SingleBar, Presets } = createRequire(import.meta.url)('cli-progress') as typeof cliProgress
    bar = new SingleBar(
      {
        stream: options.stream,
        format:
          '{bar} {percentage}% | {done}/{totalText} | {rateText} | ETA {etaText} | elapsed {elapsed} | checkpoint {checkpoint}',
        barsize: 24,
        hideCursor: true,
        clearOnComplete: false,
        stopOnComplete: false,
        fps: 2,
        forceRedraw: true,
      },
      Presets.shades_classic,
    )
  }
  const fields = (p: ProgressSnapshot): Record<string, string> => ({
    done: count(p.done),
    totalText: p.total === null ? '?' : count(p.total),
    rateText: p.itemsPerSecond === null ? '? items/s' : `${rate(p.itemsPerSecond)} items/s`,
    etaText:
      p.state === 'stalled'
        ? `STALLED ${duration(p.stalledForSeconds ?? 0)}`
        : p.etaSeconds === null
          ? 'unknown'
          : etaText(p),
    elapsed: duration(p.elapsedSeconds),
    checkpoint:
      p.lastCheckpointAt === null ? 'none yet' : `${duration((now() - Date.parse(p.lastCheckpointAt)) / 1000)} ago`,
  })
  return {
    started(start) {
      job = start.job
      if (start.movedAsideTo) write(`[${job}] the previous run was moved to ${start.movedAsideTo}`)
      const unit = start.unit ?? 'items'
      const from = start.resumed
        ? `resuming at ${count(start.committed)} of ${count(start.total)} ${unit}`
        : `${count(start.total)} ${unit}`
      write(
        `[${job}] ${from} → ${start.dir} (${start.unit === 'steps' ? 'a loop' : `workers ${start.workers}${start.concurrency !== undefined ? `, ${start.concurrency} in flight` : ''}`}, seed ${start.seed})`,
      )
      const payload = {
        done: count(start.committed),
        totalText: count(start.total),
        rateText: '? items/s',
        etaText: 'unknown',
        elapsed: '0s',
        checkpoint: 'none yet',
      }
      bar?.start(start.total, start.committed, payload)
      last = { total: start.total, value: start.committed, payload }
    },
    progress(snapshot, reason) {
      if (bar) {
        last = { total: snapshot.total ?? snapshot.done, value: snapshot.done, payload: fields(snapshot) }
        bar.setTotal(last.total)
        bar.update(snapshot.done, last.payload)
      } else if (reason === 'tick' || reason === 'state') {
        write(progressLine(snapshot, now()))
      }
    },
    note(message) {
      write(`[${job || 'longhaul'}] ${message}`)
    },
    close() {
      bar?.stop()
      bar = undefined
    },
  }
}
