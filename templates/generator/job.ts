// A generator job: item i is made from (params, i, its own random stream).
// Run it:    npx longhaul run job.ts --total 1000
// Prove it:  npx longhaul preflight job.ts --target 100000
import { defineJob, jsonl } from 'longhaul'
import { z } from 'zod'

export default defineJob({
  name: '__NAME__',
  params: z.object({ scale: z.number().default(1) }),
  total: 1_000,
  output: jsonl(),
  // Everything random comes from ctx.rng: the same index always makes the same item,
  // so a resumed or parallel run makes exactly the items an uninterrupted one does.
  item(index, ctx) {
    const x = ctx.rng.next() * ctx.params.scale
    return { index, x, label: index % 2 }
  },
  // Checked by preflight on every rehearsal item, as read back from the output.
  validate: (record: { x: number }) => Number.isFinite(record.x) || 'x is not a finite number',
  datasetChecks: {
    balancedLabels(records: Iterable<{ label: number }>) {
      let ones = 0
      let all = 0
      for (const r of records) {
        ones += r.label
        all++
      }
      return Math.abs(ones - all / 2) <= 1 || `${ones} of ${all} records have label 1`
    },
  },
})
