// One plain worker thread of the speed-up case's floor for examples/trajectories (no longhaul): makes the clips of
// items [from, to) as the job's item does (its motion code, each item's own rng, the default params) and writes
// their bytes to a file of its own, then posts how long that took, ms (its start-up, tsx's included, apart). tsx, registered in the thread, loads motion.ts.
import { closeSync, openSync, writeSync } from 'node:fs'
import { parentPort, workerData } from 'node:worker_threads'
import { register } from 'tsx/esm/api'
import { itemRng } from '../../dist/job/rng.js'

register()
const { DEFAULT_NOISE, MOTIONS, makeClip } = await import('../../examples/trajectories/motion.ts')

const { from, to, file } = workerData
const params = { frames: 16, size: 64, noise: DEFAULT_NOISE }
const started = performance.now()
const fd = openSync(file, 'w')
for (let index = from; index < to; index++) {
  const clip = makeClip(MOTIONS[index % MOTIONS.length], itemRng(0, index), params, params.noise)
  writeSync(fd, clip)
}
closeSync(fd)
parentPort.postMessage(performance.now() - started)
