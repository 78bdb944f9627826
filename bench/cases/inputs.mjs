// Inputs: the start-up scan of an input (every record found, checked and
// hashed) and the workers' reading of its records back, for one record of
// 10, 20 and 40 MB and for the same sizes in records of about 100 bytes.
// Both must be linear in the bytes: the CPU time per MB at the largest size
// is compared with that at the smallest (the wall clock is reported too).
//
//   node bench/cases/inputs.mjs REPS SIZE_MB…
import { closeSync, openSync, rmSync, writeSync } from 'node:fs'
import { join } from 'node:path'
import { register } from 'tsx/esm/api'
import { emit, median, round, say, scratch } from '../lib/report.mjs'

register()
const { csvInput, jsonlInput } = await import('longhaul')

const [reps, ...sizesMb] = process.argv.slice(2).map(Number)
const MB = 1024 * 1024
/** Linear: a MB costs at most this much more at the largest size than at the smallest (room for noise and caches). */
const MAX_RATIO = 1.5
const dir = scratch('inputs')

function cpuMs(since) {
  const used = process.cpuUsage(since)
  return (used.user + used.system) / 1000
}

/** One input file of `mb` MB: `kind` jsonl or csv, `shape` 'one record' or 'short records'. */
function writeInput(kind, shape, mb) {
  const path = join(dir, `${shape.replace(' ', '-')}-${mb}.${kind}`)
  const fd = openSync(path, 'w')
  try {
    if (kind === 'csv') writeSync(fd, 'id,text\n')
    const block = 'lorem ipsum dolor sit amet, ünïcødé ✓ '.repeat(28_000) // ~1.1 MB of text with multi-byte characters
    if (shape === 'one record') {
      writeSync(fd, kind === 'jsonl' ? '{"id":0,"text":"' : '0,"')
      for (let written = 0; written < mb * MB; written += Buffer.byteLength(block)) writeSync(fd, block)
      writeSync(fd, kind === 'jsonl' ? '"}\n' : '"\n')
    } else {
      const rows = []
      let bytes = 0
      for (let i = 0; bytes < mb * MB; i++) {
        const text = block.slice(i % 1000, (i % 1000) + 70)
        const row = kind === 'jsonl' ? `{"id":${i},"text":"${text}"}\n` : `${i},"${text}"\n`
        rows.push(row)
        bytes += Buffer.byteLength(row)
        if (rows.length === 10_000) writeSync(fd, rows.splice(0).join(''))
      }
      writeSync(fd, rows.join(''))
    }
  } finally {
    closeSync(fd)
  }
  return path
}

const only = process.env.BENCH_INPUTS?.split(',') // e.g. BENCH_INPUTS=csv: one kind only
for (const kind of ['jsonl', 'csv'].filter((k) => !only || only.includes(k))) {
  for (const shape of ['one record', 'short records']) {
    const sizes = []
    for (const mb of sizesMb) {
      const path = writeInput(kind, shape, mb)
      const scans = []
      const reads = []
      const scanCpu = []
      const readCpu = []
      let count = 0
      for (let rep = 0; rep < reps; rep++) {
        const input = kind === 'jsonl' ? jsonlInput(path) : csvInput(path)
        let started = performance.now()
        let cpu = process.cpuUsage()
        const scan = await input.scan()
        scans.push(performance.now() - started)
        scanCpu.push(cpuMs(cpu))
        count = scan.count
        started = performance.now()
        cpu = process.cpuUsage()
        const read = input.reader(scan.handle)
        for (let start = 0; start < scan.count; start += 10_000) read(start, Math.min(scan.count, start + 10_000))
        reads.push(performance.now() - started)
        readCpu.push(cpuMs(cpu))
      }
      rmSync(path)
      const scanMs = median(scans)
      const readMs = median(reads)
      sizes.push({
        mb,
        records: count,
        scanMs: round(scanMs, 1),
        readMs: round(readMs, 1),
        scanMsPerMb: round(scanMs / mb, 2),
        readMsPerMb: round(readMs / mb, 2),
        // CPU time of the process (all its threads, the garbage collector's included): less disturbed by other processes than the wall clock.
        scanCpuMs: round(median(scanCpu), 1),
        readCpuMs: round(median(readCpu), 1),
      })
      say(
        `${kind} input, ${shape}, ${mb} MB (${count} records): scan ${scanMs.toFixed(0)} ms (CPU ${median(scanCpu).toFixed(0)}), read ${readMs.toFixed(0)} ms (CPU ${median(readCpu).toFixed(0)})`,
      )
    }
    const first = sizes[0]
    const last = sizes.at(-1)
    // Time per MB at the largest size ÷ at the smallest: 1 is linear; a quadratic scan doubles it with each doubling of
    // the size. Judged on CPU time, which other processes on the machine disturb far less than the wall clock.
    const ratio = (field) => round(last[field] / last.mb / (first[field] / first.mb), 2)
    const scanCpuPerMbRatio = ratio('scanCpuMs')
    const readCpuPerMbRatio = ratio('readCpuMs')
    emit('inputs', {
      input: kind,
      shape,
      reps,
      sizes,
      scanCpuPerMbRatio,
      readCpuPerMbRatio,
      scanPerMbRatio: ratio('scanMs'),
      readPerMbRatio: ratio('readMs'),
      target: `CPU ms per MB at ${last.mb} MB <= ${MAX_RATIO} x at ${first.mb} MB`,
      pass: scanCpuPerMbRatio <= MAX_RATIO && readCpuPerMbRatio <= MAX_RATIO,
    })
  }
}
rmSync(dir, { recursive: true, force: true })
