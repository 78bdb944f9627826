import { readFileSync, readdirSync } from 'node:fs'
const dir = process.argv[2]
for (const f of readdirSync(dir).sort()) {
  const p = JSON.parse(readFileSync(`${dir}/${f}`, 'utf8'))
  const byId = new Map(p.nodes.map((n) => [n.id, n]))
  const self = new Map()
  const dts = p.timeDeltas; let total = 0
  for (let i = 0; i < p.samples.length; i++) { const n = byId.get(p.samples[i]); const k = `${n.callFrame.functionName || '(anon)'} ${n.callFrame.url.split('/').slice(-2).join('/')}:${n.callFrame.lineNumber + 1}`; self.set(k, (self.get(k) ?? 0) + dts[i]); total += dts[i] }
  const top = [...self].sort((a, b) => b[1] - a[1]).slice(0, Number(process.argv[3] ?? 15))
  console.log(`== ${f} total ${(total / 1000).toFixed(0)} ms`)
  for (const [k, v] of top) console.log(`  ${(v / 1000).toFixed(1).padStart(8)} ms ${(100 * v / total).toFixed(1).padStart(5)}%  ${k}`)
}
