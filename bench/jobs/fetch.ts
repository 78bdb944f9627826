// Each item is one HTTP call to `url` (the bench's local server, which answers
// after a delay) and returns the answer as a JSON line: an item that waits on
// another service, made many at a time with `concurrency`.
import { defineJob, jsonl } from 'longhaul'
import { z } from 'zod'

export default defineJob({
  name: 'bench-fetch',
  params: z.object({ url: z.string() }),
  output: jsonl(),
  async item(index, ctx) {
    const response = await fetch(`${ctx.params.url}/item/${index}`)
    if (!response.ok) throw new Error(`HTTP ${response.status} from ${ctx.params.url}`)
    return await response.json()
  },
})
