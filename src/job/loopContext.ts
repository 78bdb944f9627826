// Apart from defineLoop.ts, so that a job's `import 'longhaul'` does not load the random generator (pure-rand, about
// 25 ms of CPU): only what runs a loop's steps (loopWorker.ts) or a map's items (worker.ts) needs it.
import type { LoopContext } from './defineLoop.ts'
import { itemRng, type Rng } from './rng.ts'

/** The context of step `step` (-1: init): its random stream comes from (seed, step) alone (invariant determinism). */
export function loopContext<P>(step: number, steps: number, params: P, seed: number): LoopContext<P> {
  let rng: Rng | undefined
  return {
    step,
    steps,
    params,
    seed,
    // Created on first use: steps that draw no random numbers pay nothing.
    get rng() {
      return (rng ??= itemRng(seed, step))
    },
  }
}
