// Paid calls made twice after a crash: examples/llm-batch/job.ts run by the CLI against the local fake chat endpoint
// (examples/llm-batch/fake-endpoint.mjs: answers after LATENCY_MS, 2% seeded 500s), with CONCURRENCY calls in flight,
// --rate-limit RATE/s and --checkpoint-every CHECKPOINT_S; SIGKILLed KILLS times, each at a seeded random moment
// (1–8 s after the session's first paid call), resumed each time, and run to the end. A paid call is one the endpoint
// answered 200. A call is counted as made twice in the session that paid a prompt already paid in an earlier one,
// and put down to the kill before that session: those are the calls that were made but not committed when it came.
// Each kill's count is held against the bound the design gives: the calls in flight plus the checkpoint interval ×
// the rate. The output is then verified (each prompt once, verify clean).
//
//   node bench/cases/paidcalls.mjs PROMPTS KILLS LATENCY_MS CONCURRENCY RATE CHECKPOINT_S [SEED]
import { spawn } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { startFakeEndpoint } from '../../examples/llm-batch/fake-endpoint.mjs'
import { emit, round, say, scratch } from '../lib/report.mjs'

const [prompts, kills, latencyMs, concurrency, rate, checkpointS] = process.argv.slice(2, 8).map(Number)
const seed = Number(process.argv[8] ?? 1)
const BIN = fileURLToPath(new URL('../../bin/longhaul.mjs', import.meta.url))
const JOB = fileURLToPath(new URL('../../examples/llm-batch/job.ts', import.meta.url))

/** mulberry32: the kill moments from the seed. */
function random(state) {
  return () => {
    state = (state + 0x6d2b79f5) | 0
    let t = Math.imul(state ^ (state >>> 15), 1 | state)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32
  }
}

const dir = scratch(`paidcalls-${checkpointS}`)
const promptsFile = join(dir, 'prompts.jsonl')
writeFileSync(
  promptsFile,
  Array.from(
    { length: prompts },
    (_, i) => `${JSON.stringify({ id: `q${i}`, prompt: `Question ${i}: say ${i}.` })}\n`,
  ).join(''),
)
const out = join(dir, 'run')
const endpoint = await startFakeEndpoint({ latencyMs, failRate: 0.02, seed })
const draw = random(seed)
const env = { ...process.env, LONGHAUL_LLM_BASE_URL: endpoint.url, LONGHAUL_LLM_PROMPTS: promptsFile, NO_COLOR: '1' }
const args = [BIN, 'run', JOB, '--out', out, '--concurrency', String(concurrency), '--rate-limit', `${rate}/s`]
// Above 1,000 items a run wants preflight's proof; what this measures needs none (the waiver is journalled).
args.push('--checkpoint-every', String(checkpointS), '--skip-preflight')

/** The session each prompt was first paid in, and the calls each session paid again. */
const firstPaidIn = new Map()
const repeatedIn = []
let seen = new Map()
/** Attributes the calls paid since the last look to `session`. */
function account(session) {
  repeatedIn[session] ??= 0
  for (const [prompt, n] of endpoint.answered) {
    const before = seen.get(prompt) ?? 0
    if (n === before) continue
    if (!firstPaidIn.has(prompt)) firstPaidIn.set(prompt, session)
    repeatedIn[session] += firstPaidIn.get(prompt) === session ? n - before - (before === 0 ? 1 : 0) : n - before
  }
  seen = new Map(endpoint.answered)
}

const killsAt = []
const started = performance.now()
try {
  for (let session = 0; ; session++) {
    const child = spawn(process.execPath, args, { env, stdio: ['ignore', 'ignore', 'pipe'] })
    let stderr = ''
    child.stderr.on('data', (chunk) => (stderr += chunk))
    let over
    const ended = new Promise((resolve) =>
      child.on('close', (code, signal) => {
        over = { code, signal }
        resolve(over)
      }),
    )
    if (session < kills) {
      const paidAtStart = endpoint.totals().ok
      while (endpoint.totals().ok === paidAtStart && !over) await new Promise((resolve) => setTimeout(resolve, 5))
      const afterMs = 1000 + draw() * 7000
      const timer = setTimeout(() => child.kill('SIGKILL'), afterMs)
      const { signal, code } = await ended
      clearTimeout(timer)
      if (signal !== 'SIGKILL' && code !== 0) throw new Error(`session ${session} exited ${code}: ${stderr}`)
      if (signal !== 'SIGKILL') {
        // Done before its kill (few prompts: BENCH_SCALE): the kills made are what is reported.
        account(session)
        say(`paidcalls: the run completed before kill ${session + 1}`)
        break
      }
      killsAt.push(round(afterMs / 1000, 2))
      account(session)
      say(
        `paidcalls: kill ${session + 1} at ${round(afterMs / 1000, 1)} s into the session, ${endpoint.totals().ok} paid calls so far`,
      )
    } else {
      const { code } = await ended
      if (code !== 0) throw new Error(`the last session exited ${code}: ${stderr}`)
      account(session)
      break
    }
  }
  const wallS = (performance.now() - started) / 1000

  const ids = readOutputIds(out)
  const eachOnce = ids.length === prompts && ids.every((id, i) => id === `q${i}`)
  const { verifyRun } = await import('../lib/longhaul.mjs')
  const report = await verifyRun(out)
  const verified = report.complete && report.digest !== null && report.problems.length === 0
  const repeatsPerKill = repeatedIn.slice(1, killsAt.length + 1)
  const bound = concurrency + rate * checkpointS
  const totals = endpoint.totals()
  const worst = Math.max(0, ...repeatsPerKill)
  say(
    `paidcalls: ${prompts} prompts, ${killsAt.length} kills, ${concurrency} in flight at ${rate}/s, checkpoint ${checkpointS} s: ` +
      `calls made twice per kill ${repeatsPerKill.join(', ')} (bound ${bound}); ${totals.ok} paid calls in all, ` +
      `${totals.failed} answered 500; output each prompt once: ${eachOnce}; verify: ${verified ? 'clean' : `FAILED: ${report.problems.join('; ')}`}; ${round(wallS, 1)} s`,
  )
  emit('paidcalls', {
    prompts,
    kills: killsAt.length,
    latencyMs,
    concurrency,
    ratePerS: rate,
    checkpointS,
    killsAtS: killsAt,
    repeatedPerKill: repeatsPerKill,
    worstPerKill: worst,
    bound,
    paidCalls: totals.ok,
    paidTwice: totals.ok - prompts,
    eachPromptOnce: eachOnce,
    verified,
    digest: report.digest,
    wallS: round(wallS, 1),
    target: 'calls made twice per kill ≤ in flight + checkpoint interval × rate; each prompt once in the output',
    pass: killsAt.length > 0 && worst <= bound && eachOnce && verified,
  })
} finally {
  await endpoint.close()
}

function readOutputIds(run) {
  const data = join(run, 'data')
  const index = JSON.parse(readFileSync(join(data, 'index.json'), 'utf8'))
  return index.shards.flatMap((shard) =>
    shard.files.flatMap((file) =>
      readFileSync(join(data, file), 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((line) => JSON.parse(line).id),
    ),
  )
}
