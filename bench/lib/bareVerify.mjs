// The floor of `verify` for a JSON Lines run, in one thread: read each shard (data/*.jsonl) whole, sha256 it, and
// sha256 each of its lines (hash-wasm's hasher, as longhaul's items are hashed), and read the journal's bytes
// through once (`cat`'s share of the journal). Prints the ms it took.
//
//   node bench/lib/bareVerify.mjs DIR
import { createHash } from 'node:crypto'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import sha256 from 'hash-wasm/dist/sha256.umd.min.js'

const dir = process.argv[2]
const hasher = await sha256.createSHA256()
const began = performance.now()
let items = 0
for (const name of readdirSync(join(dir, 'data')).sort()) {
  if (!name.endsWith('.jsonl')) continue
  const data = readFileSync(join(dir, 'data', name))
  createHash('sha256').update(data).digest()
  for (let start = 0, end = data.indexOf(10); end >= 0; start = end + 1, end = data.indexOf(10, start)) {
    hasher.init()
    hasher.update(data.subarray(start, end))
    hasher.digest('binary')
    items++
  }
}
for (const name of readdirSync(join(dir, '.longhaul')))
  if (name.startsWith('journal.sqlite')) readFileSync(join(dir, '.longhaul', name))
process.stdout.write(`${JSON.stringify({ ms: performance.now() - began, items })}\n`)
