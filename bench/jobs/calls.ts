// Each item is one call, through ctx.fetch, to the local service at params.url: what a job against a rate-limited
// API does, without the API's latency.
import { defineJob, jsonl } from 'longhaul'
import { z } from 'zod'

export default defineJob({
  name: 'bench-calls',
  params: z.object({ url: z.string() }),
  output: jsonl(),
  async item(index, ctx) {
    const response = await ctx.fetch(`${ctx.params.url}/item/${index}`)
    if (!response.ok) throw new Error(`the service answered ${response.status}`)
    return { index, answer: await response.json() }
  },
})
