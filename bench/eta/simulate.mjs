// Replays one trace (per-item durations, one worker) through tqdm's estimator
// and ours, each fed the way it is in a real run, and scores both.
//
// - tqdm sees every item: `update(1)` at each completion, its monitor thread
//   every 10 s; its answer at a moment is what `format_meter` shows then.
// - ours is fed as the runner feeds it: `observe(t, done)` with the count at
//   every sampling tick (each 1 s) and at every commit (each 2 s, half a
//   second off the ticks); it knows nothing of what completed since.
//
// Scoring (`points`): at the instant 10, 25, 50 and 75% of the items are
// done, both give the remaining time (ours: `estimate(that instant, total −
// the count it last saw)`), compared with the true remaining time, the
// trace's end minus that instant. Two checks on the same replay:
// `pointsAtTick`, the same at the first sampling tick or commit after each of
// those instants, where ours has just counted (and tqdm has seen up to a
// second more items); and `refreshes`, at every 10 s refresh between 5% and
// 95% done, so that four points cannot be a lucky draw.
import { TqdmBar } from './tqdm.mjs'

export const POINTS = [0.1, 0.25, 0.5, 0.75]
const SAMPLE_MS = 1_000
const COMMIT_MS = 2_000
const COMMIT_OFFSET_MS = 500
const REFRESH_MS = 10_000
const MONITOR_MS = 10_000

/** One prediction against the truth. A null prediction counts as missing the whole remaining time. */
function score(predicted, actual, low = null, high = null) {
  const error = Math.abs((predicted ?? 0) - actual)
  return {
    predicted,
    actual,
    error,
    relative: actual > 0 ? error / actual : 0,
    low,
    high,
    covered: low !== null && low <= actual && actual <= high,
  }
}

/** Runs one trace; `EtaEstimator` is the class under test (src/telemetry/eta.ts). */
export function simulate(durationsMs, EtaEstimator) {
  const total = durationsMs.length
  const ends = new Float64Array(total)
  let clock = 0
  for (let k = 0; k < total; k++) ends[k] = clock += durationsMs[k]
  const endMs = clock

  const tqdm = new TqdmBar(total)
  const ours = new EtaEstimator(0)
  let seen = 0 // the count ours last observed
  const evaluate = (t, done) => {
    const actual = (endMs - t) / 1000
    const eta = ours.estimate(t, total - seen)
    return {
      done,
      ours: score(eta.etaSeconds, actual, eta.etaLow, eta.etaHigh),
      tqdm: score(tqdm.remainingAt(t / 1000), actual),
    }
  }

  const points = []
  const pointsAtTick = []
  const refreshes = []
  let completed = 0
  let nextMonitor = MONITOR_MS
  let nextSample = SAMPLE_MS
  let nextCommit = COMMIT_OFFSET_MS + COMMIT_MS
  let nextRefresh = REFRESH_MS
  const monitorUntil = (t) => {
    for (; nextMonitor <= t; nextMonitor += MONITOR_MS) tqdm.monitor(nextMonitor / 1000)
  }

  while (completed < total) {
    const tick = Math.min(nextSample, nextCommit)
    // Items completing up to this runner tick: tqdm sees each one, ours none.
    while (completed < total && ends[completed] <= tick) {
      monitorUntil(ends[completed])
      tqdm.update(ends[completed] / 1000)
      completed++
      if (points.length < POINTS.length && completed >= POINTS[points.length] * total) {
        points.push({ at: POINTS[points.length], ...evaluate(ends[completed - 1], completed) })
      }
    }
    if (completed === total) break
    monitorUntil(tick)
    ours.observe(tick, completed)
    seen = completed
    if (tick === nextSample) nextSample += SAMPLE_MS
    else nextCommit += COMMIT_MS
    while (pointsAtTick.length < points.length)
      pointsAtTick.push({ at: POINTS[pointsAtTick.length], ...evaluate(tick, completed) })
    if (tick >= nextRefresh) {
      nextRefresh += REFRESH_MS
      if (completed >= 0.05 * total && completed <= 0.95 * total) refreshes.push(evaluate(tick, completed))
    }
  }
  return { total, seconds: endMs / 1000, points, pointsAtTick, refreshes }
}

const mean = (values) => values.reduce((sum, value) => sum + value, 0) / values.length

/** Mean absolute error (s), mean relative error, and how often the interval held the truth, for `who` ('ours' or 'tqdm'). */
export function summarise(evaluations, who) {
  return {
    meanAbsErrorS: mean(evaluations.map((e) => e[who].error)),
    meanRelError: mean(evaluations.map((e) => e[who].relative)),
    coverage: mean(evaluations.map((e) => (e[who].covered ? 1 : 0))),
  }
}
