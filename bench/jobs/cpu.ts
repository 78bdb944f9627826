// A CPU-bound item: `rounds` iterations of floating-point work (a fixed amount
// of computation, not a fixed time, so that threads fighting for a core show
// up as a slower run).
import { defineJob, jsonl } from 'longhaul'
import { z } from 'zod'
import { spin } from './kernel.mjs'

export default defineJob({
  name: 'bench-cpu',
  params: z.object({ rounds: z.number().int().positive() }),
  output: jsonl(),
  item(index, ctx) {
    return { i: index, x: spin(index, ctx.params.rounds) }
  },
})
