// The smallest useful item: a tiny object, so what is measured is longhaul's
// own cost per item (context, JSON, hash, shard, commit).
//
// BENCH_ANNOUNCE_FROM (env): from this index on, the item posts the moment it
// was made on the 'longhaul-bench' BroadcastChannel, which reaches the
// coordinating thread from the worker threads (the resume benchmark's "first
// item made").
import { defineJob, jsonl } from 'longhaul'

const announceFrom = Number(process.env.BENCH_ANNOUNCE_FROM ?? Number.POSITIVE_INFINITY)
let channel: BroadcastChannel | undefined

export default defineJob({
  name: 'bench-trivial',
  output: jsonl(),
  item(index) {
    if (index >= announceFrom) {
      if (!channel) {
        channel = new BroadcastChannel('longhaul-bench')
        ;(channel as unknown as { unref(): void }).unref()
      }
      channel.postMessage({ made: index, at: performance.timeOrigin + performance.now() })
    }
    return { i: index }
  },
})
