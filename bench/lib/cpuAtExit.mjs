// Preloaded (--import) into a process whose start-up is measured: at exit, writes the CPU time it used
// (user + system, all its threads, in ms) to the file BENCH_CPU_FILE names.
import { writeFileSync } from 'node:fs'

const file = process.env.BENCH_CPU_FILE
if (file) {
  process.once('exit', () => {
    const { user, system } = process.cpuUsage()
    writeFileSync(file, String((user + system) / 1000))
  })
}
