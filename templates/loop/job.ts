// A loop job: a stateful sequence of steps, here a small training loop
// (stochastic gradient descent fitting a linear model to noisy samples).
// Run it:    npx longhaul run job.ts        (1,000 steps: at the default policy's limit for a run without a proof)
// Prove it:  npx longhaul preflight job.ts --target 100000
import { defineLoop } from 'longhaul'
import { z } from 'zod'

/** The weights the samples come from: what training should find. */
const TRUE_WEIGHTS = [0.5, -1.25, 2, 0.75, -0.3, 1.1, -2.2, 0.05]

export default defineLoop({
  name: '__NAME__',
  steps: 1_000,
  params: z.object({ lr: z.number().positive().default(0.01), batch: z.number().int().positive().default(256) }),
  // A checkpoint every 30 s (and always at the end, and on Ctrl-C); the last 3 are kept, plus the one with the lowest error.
  checkpointEvery: { ms: 30_000 },
  keep: 3,
  best: { metric: 'error', mode: 'min' },
  // Everything the next step needs is in the state and in save(): a resumed run ends in exactly the same bytes.
  init: () => new Float64Array(TRUE_WEIGHTS.length),
  step(weights, _i, ctx) {
    // Each step's samples come from its own random stream (ctx.rng), never from Math.random.
    const gradient = new Float64Array(weights.length)
    const x = new Float64Array(weights.length)
    for (let n = 0; n < ctx.params.batch; n++) {
      let predicted = 0
      let actual = ctx.rng.normal(0, 0.1)
      for (let j = 0; j < x.length; j++) {
        x[j] = ctx.rng.normal(0, 1)
        predicted += weights[j]! * x[j]!
        actual += TRUE_WEIGHTS[j]! * x[j]!
      }
      for (let j = 0; j < x.length; j++) gradient[j]! += (2 * (predicted - actual) * x[j]!) / ctx.params.batch
    }
    for (let j = 0; j < weights.length; j++) weights[j]! -= ctx.params.lr * gradient[j]!
    return weights
  },
  save: (weights) => new Uint8Array(weights.buffer.slice(0)),
  load: (bytes) => new Float64Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 8),
  metrics: (weights) => ({ error: Math.hypot(...weights.map((w, j) => w - TRUE_WEIGHTS[j]!)) }),
})
