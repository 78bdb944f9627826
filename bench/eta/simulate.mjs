// Replays one trace (per-item durations, one worker) through tqdm's estimator
// and ours, the way each would be fed in a real run, and scores both.
//
// - tqdm sees every item: `update(1)` at each completion, its monitor thread
//   every 10 s; its answer at a moment is what `format_meter` would show then.
// - ours is fed as the runner feeds it: `observe(t, done)` with the count at
//   every sampling tick (each 1 s) and at every commit (each 2 s, half a
//   second off the ticks), `estimate` when asked.
//
// Scoring: at the first runner tick where 10, 25, 50 and 75% of the items are
// done, both estimators give the remaining time and are compared with the
// true remaining time (the trace's end minus that moment). Also, as a check
// that the four points are not a lucky draw, the same at every 10 s refresh
// between 5% and 95% done.
import { TqdmBar } from './tqdm.mjs'

export const POINTS = [0.1, 0.25, 0.5, 0.75]
const SAMPLE_MS = 1_000
const COMMIT_MS = 2_000
const COMMIT_OFFSET_MS = 500
const REFRESH_MS = 10_000
const MONITOR_MS = 10_000

/** One estimate scored against the truth. Null predictions count as missing the whole remaining time. */
function score(predicted, actual, low, high) {
  const error = Math.abs((predicted ?? 0) - actual)
  return { predicted, actual, error, relative: actual > 0 ? error / actual : 0, covered: low != null && low <= actual && actual <= high }
}

/**
 * Runs the trace; `EtaEstimator` is the class under test (src/telemetry/eta.ts).
 * Returns per-point scores for both and the every-refresh scores.
 */
export function simulate(durationsMs, EtaEstimator) {
  const total = durationsMs.length
  const ends = new Float64Array(total)
  let clock = 0
  for (let k = 0; k < total; k++) ends[k] = clock += durationsMs[k]
  const endMs = clock

  const tqdm = new TqdmBar(total)
  const ours = new EtaEstimator(0)
  const points = []
  const refreshes = []
  let nextPoint = 0
  let completed = 0
  let nextMonitor = MONITOR_MS
  let nextSample = SAMPLE_MS
  let nextCommit = COMMIT_OFFSET_MS + COMMIT_MS
  let nextRefresh = REFRESH_MS

  const evaluate = (t) => {
    const done = completed
    const actual = (endMs - t) / 1000
    const eta = ours.estimate(t, total - done)
    return {
      done,
      ours: { ...score(eta.etaSeconds, actual, eta.etaLow, eta.etaHigh), low: eta.etaLow, high: eta.etaHigh },
      tqdm: score(tqdm.remainingAt(t / 1000), actual),
    }
  }

  while (completed < total) {
    const tick = Math.min(nextSample, nextCommit)
    // Everything that happens before this runner tick: items completing (tqdm sees each) and tqdm's monitor.
    while (completed < total && ends[completed] <= tick) {
      while (nextMonitor < ends[completed]) {
        tqdm.monitor(nextMonitor / 1000)
        nextMonitor += MONITOR_MS
      }
      tqdm.update(ends[completed] / 1000)
      completed++
    }
    while (nextMonitor <= tick) {
      tqdm.monitor(nextMonitor / 1000)
      nextMonitor += MONITOR_MS
    }
    ours.observe(tick, completed)
    if (tick === nextSample) nextSample += SAMPLE_MS
    else nextCommit += COMMIT_MS
    if (completed === total) break
    while (nextPoint < POINTS.length && completed >= POINTS[nextPoint] * total) {
      points.push({ at: POINTS[nextPoint], ...evaluate(tick) })
      nextPoint++
    }
    if (tick >= nextRefresh) {
      nextRefresh += REFRESH_MS
      if (completed >= 0.05 * total && completed <= 0.95 * total) refreshes.push(evaluate(tick))
    }
  }
  return { total, seconds: endMs / 1000, points, refreshes }
}

const mean = (values) => values.reduce((sum, v) => sum + v, 0) / values.length

/** Mean absolute and relative error of one estimator over some evaluations, and (ours) how often the interval held the truth. */
export function summarise(evaluations, who) {
  return {
    meanAbsErrorS: mean(evaluations.map((e) => e[who].error)),
    meanRelError: mean(evaluations.map((e) => e[who].relative)),
    coverage: mean(evaluations.map((e) => (e[who].covered ? 1 : 0))),
  }
}
