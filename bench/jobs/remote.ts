// Each item waits `ms` milliseconds without using the CPU, then returns a tiny
// object: an item that is mostly waiting on another service (an API or LLM
// call), the kind that more processes speed up even on a small machine.
import { defineJob, jsonl } from 'longhaul'
import { z } from 'zod'

const pause = new Int32Array(new SharedArrayBuffer(4))

export default defineJob({
  name: 'bench-remote',
  params: z.object({ ms: z.number().positive() }),
  output: jsonl(),
  item(index, ctx) {
    Atomics.wait(pause, 0, 0, ctx.params.ms)
    return { i: index }
  },
})
