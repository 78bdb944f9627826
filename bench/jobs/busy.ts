// Each item busy-waits `us` microseconds on the clock, then returns a tiny
// object: an item of a known duration.
import { defineJob, jsonl } from 'longhaul'
import { z } from 'zod'
import { announce } from './announce.ts'

export default defineJob({
  name: 'bench-busy',
  params: z.object({ us: z.number().positive() }),
  output: jsonl(),
  item(index, ctx) {
    announce(index)
    const until = performance.now() + ctx.params.us / 1000
    while (performance.now() < until);
    return { i: index }
  },
})
