// The smallest useful item, a tiny object: what is measured is longhaul's own
// cost per item (context, JSON, hash, shard, commit).
import { defineJob, jsonl } from 'longhaul'
import { announce } from './announce.ts'

export default defineJob({
  name: 'bench-trivial',
  output: jsonl(),
  item(index) {
    announce(index)
    return { i: index }
  },
})
