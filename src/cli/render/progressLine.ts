import { doneText, duration, etaText, rate } from '../../telemetry/progressText.ts'
import type { ProgressSnapshot } from '../../telemetry/snapshot.ts'

/** One line for a log: `[job] RUNNING 1,200/3,000 (40.0%) | 152 items/s | ETA 12s (10s – 15s) | elapsed 8s | last checkpoint 1s ago`. */
export function progressLine(p: ProgressSnapshot, now: number): string {
  const checkpoint =
    p.lastCheckpointAt === null ? 'none yet' : `${duration((now - Date.parse(p.lastCheckpointAt)) / 1000)} ago`
  return [
    `[${p.job}] ${p.state.toUpperCase()} ${doneText(p, '/')}`,
    `${p.itemsPerSecond === null ? '?' : rate(p.itemsPerSecond)} ${p.unit ?? 'items'}/s`,
    `ETA ${etaText(p)}`,
    `elapsed ${duration(p.elapsedSeconds)}`,
    `last checkpoint ${checkpoint}`,
  ].join(' | ')
}
