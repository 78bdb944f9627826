// ETA error against tqdm: each recorded trace (bench/eta/traces/, one worker)
// replayed through tqdm's estimator and ours (bench/eta/simulate.mjs). The
// figure is the mean absolute error of the predicted remaining time at 10,
// 25, 50 and 75% done; ours passes a trace when it is below tqdm's. Pure
// computation on simulated time: no job is run.
//
//   node bench/cases/eta.mjs [SEEDS]
//
// SEEDS (default 20): also replays the same shapes drawn with seeds 2 … SEEDS+1
// (bench/eta/generate.mjs) and reports on how many ours was below tqdm, so a
// pass cannot rest on one lucky draw.
import { readFileSync } from 'node:fs'
import { register } from 'tsx/esm/api'
import { makeTraces, SEED, SHAPES, TRACES_DIR } from '../eta/generate.mjs'
import { POINTS, simulate, summarise } from '../eta/simulate.mjs'
import { emit, round, say } from '../lib/report.mjs'

register()
const { EtaEstimator } = await import('../../src/telemetry/eta.ts')

const seeds = Number(process.argv[2] ?? 20)
const otherSeeds = Array.from({ length: seeds }, (_, i) => makeTraces(SEED + 1 + i))

const figures = (summary, withCoverage) => ({
  meanAbsErrorS: round(summary.meanAbsErrorS, 1),
  meanRelError: round(summary.meanRelError),
  ...(withCoverage && { coverage: round(summary.coverage, 2) }),
})
const compare = (evaluations) => ({
  ours: figures(summarise(evaluations, 'ours'), true),
  tqdm: figures(summarise(evaluations, 'tqdm'), false),
})
const oursWins = (evaluations) =>
  summarise(evaluations, 'ours').meanAbsErrorS < summarise(evaluations, 'tqdm').meanAbsErrorS

for (const shape of SHAPES) {
  const durations = JSON.parse(readFileSync(`${TRACES_DIR}${shape.name}.json`, 'utf8'))
  const run = simulate(durations, EtaEstimator)
  const { ours, tqdm } = compare(run.points)
  const elsewhere = otherSeeds.map((traces) => simulate(traces[shape.name], EtaEstimator))
  const pass = oursWins(run.points)
  say(
    `eta ${shape.name}: mean abs error ${ours.meanAbsErrorS} s (ours) vs ${tqdm.meanAbsErrorS} s (tqdm)${pass ? '' : ' — not below tqdm'}`,
  )
  emit('eta', {
    trace: shape.name,
    about: shape.about,
    items: run.total,
    seconds: round(run.seconds, 1),
    ours,
    tqdm,
    points: run.points.map((point) => ({
      at: point.at,
      trueS: round(point.ours.actual, 1),
      oursS: point.ours.predicted === null ? null : round(point.ours.predicted, 1),
      oursLowS: point.ours.low === null ? null : round(point.ours.low, 1),
      oursHighS: point.ours.high === null ? null : round(point.ours.high, 1),
      tqdmS: point.tqdm.predicted === null ? null : round(point.tqdm.predicted, 1),
    })),
    // The same points asked at the first sampling tick or commit after each (ours has just counted; tqdm has seen up to a second more).
    atTick: { ...compare(run.pointsAtTick), pass: oursWins(run.pointsAtTick) },
    // Every 10 s refresh between 5% and 95% done.
    everyRefresh: { ...compare(run.refreshes), pass: oursWins(run.refreshes) },
    otherSeeds: {
      seeds: `${SEED + 1}-${SEED + seeds}`,
      oursBelowTqdm: elsewhere.filter((other) => oursWins(other.points)).length,
      atTickOursBelowTqdm: elsewhere.filter((other) => oursWins(other.pointsAtTick)).length,
      of: seeds,
    },
    target: `mean abs error at ${POINTS.map((p) => `${p * 100}%`).join('/')} below tqdm's`,
    pass,
  })
}
