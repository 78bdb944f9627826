// Runs a bench script in a child process of its own and collects the JSON
// lines it prints; its stderr (progress) passes straight through.
import { spawn } from 'node:child_process'

/** Resolves to the child's JSON lines; rejects if it fails or outlives `timeoutMs`. */
export function runScript(script, args = [], { env = {}, timeoutMs = 300_000, onResult } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [script, ...args], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'inherit'],
    })
    const results = []
    let pending = ''
    child.stdout.setEncoding('utf8')
    child.stdout.on('data', (text) => {
      pending += text
      for (let nl = pending.indexOf('\n'); nl >= 0; nl = pending.indexOf('\n')) {
        const line = pending.slice(0, nl).trim()
        pending = pending.slice(nl + 1)
        if (!line) continue
        const result = JSON.parse(line)
        results.push(result)
        onResult?.(result)
      }
    })
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs)
    child.on('error', reject)
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      if (code === 0) resolve(results)
      else
        reject(
          new Error(
            `${script} ${args.join(' ')} ${signal ? `was killed (${signal}, time limit ${timeoutMs} ms)` : `exited with ${code}`}`,
          ),
        )
    })
  })
}
