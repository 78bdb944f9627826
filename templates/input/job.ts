// An input job: item i is made from record i of input.jsonl (one JSON object per line).
// Run it:    npx longhaul run job.ts
// Prove it:  npx longhaul preflight job.ts --target <records in the input>
import { defineJob, jsonl, jsonlInput } from 'longhaul'

interface Row {
  readonly id: number
  readonly text: string
}

export default defineJob({
  name: '__NAME__',
  input: jsonlInput<Row>(new URL('./input.jsonl', import.meta.url)),
  output: jsonl(),
  // Deterministic in its record: a resumed run makes exactly what an uninterrupted one does.
  item(row, ctx) {
    return { id: row.id, words: row.text.split(/\s+/).filter(Boolean).length, index: ctx.index }
  },
  validate: (record: { words: number }) => record.words > 0 || 'an empty text',
})
