import { copyFileSync, existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { GateRefusedError } from '../../src/errors.ts'
import { SqliteStore } from '../../src/journal/sqlite/sqliteStore.ts'
import { launchGate } from '../../src/preflight/gate.ts'
import { loadPolicy } from '../../src/preflight/policy.ts'
import { preflightOn } from '../../src/preflight/preflight.ts'
import { identifyJob } from '../../src/run/identify.ts'
import { recorded } from '../fixtures/evidence/record.ts'
import { ROOT, runCliHere, tempDir } from '../support/cli.ts'

// A copy of a sound job, so the test can change it by one byte without touching the fixture.
const job = join(ROOT, 'test/fixtures/broken', `.gate-${process.pid}.ts`)
const out = join(tempDir(), 'run')
const TARGET = 1_500

// The proof is made as preflight makes it, on the evidence a real preflight of the sound job at this target gathered
// (its child runs are not repeated here; a whole preflight is proved end to end in brokenJobs.test.ts and, from the
// command line, in projection.test.ts). The gate is the CLI's: each `run` here is the CLI's main in this process, without
// the start of a process of its own.
beforeAll(async () => {
  copyFileSync(join(ROOT, 'test/fixtures/broken/sound.ts'), job)
  const proved = await preflightOn({ jobPath: job, target: TARGET, outDir: out }, recorded('sound-1500').evidence)
  expect(proved.passed).toBe(true)
})
afterAll(() => rmSync(job, { force: true }))

describe('gate', () => {
  it("gate: a run above the policy's scale without a proof is refused (exit 3) with the checklist and the preflight command, writing nothing", async () => {
    const elsewhere = join(tempDir(), 'unproved')
    const refused = await runCliHere(['run', job, '--out', elsewhere, '--total', '1001'])
    expect(refused.code).toBe(3)
    expect(refused.stderr).toMatch(
      /refused by the launch gate: 1,001 items is above the policy's requireProofAbove \(1,000, the default\)/,
    )
    expect(refused.stderr).toMatch(/✘ a proof for this exact job/)
    expect(refused.stderr).toContain(`npx longhaul preflight ${job} --target 1001 --out ${elsewhere}`)
    expect(existsSync(elsewhere)).toBe(false)
    // At or below the scale, no proof is needed.
    expect((await runCliHere(['run', job, '--out', join(tempDir(), 'small'), '--total', '1000'])).code).toBe(0)
  })

  it('gate: a passing proof for the same fingerprint and a target ≥ total lets the run start, and progress.json names the proof', async () => {
    const ran = await runCliHere(['run', job, '--out', out, '--total', String(TARGET)])
    expect(ran.code, ran.stderr).toBe(0)
    const progress = JSON.parse(readFileSync(join(out, 'progress.json'), 'utf8'))
    expect(progress.gate).toMatchObject({ status: 'proved', target: TARGET })
    expect(readFileSync(join(out, 'PROGRESS.txt'), 'utf8')).toMatch(/Launch gate:\s+proved by sound/)
  })

  it('gate: the proof does not cover a total past its target', async () => {
    const refused = await runCliHere(['run', job, '--out', out, '--total', String(TARGET + 1)])
    expect(refused.code).toBe(3)
    expect(refused.stderr).toMatch(/✔ a proof for this exact job/)
    expect(refused.stderr).toMatch(/✘ its target covers this run \(proved for 1,500 items, this run has 1,501\)/)
  })

  it('gate: an expired proof, or one made under another policy, is refused', async () => {
    const loaded = await loadPolicy(job)
    const { fingerprint } = await identifyJob({ jobPath: job })
    const facts = {
      job: 'sound',
      jobPath: job,
      outDir: out,
      fingerprint,
      total: TARGET,
      params: {},
      seed: 0,
      kind: 'map' as const,
    }
    const command = () => 'npx longhaul preflight …'
    await expect(launchGate({ policy: loaded, skip: false, preflightCommand: command })(facts)).resolves.toMatchObject({
      status: 'proved',
    })
    const later = Date.now() + (loaded.policy.proofValidDays + 1) * 86_400_000
    await expect(
      launchGate({ policy: loaded, skip: false, preflightCommand: command, now: () => later })(facts),
    ).rejects.toThrow(/✘ it has not expired/)
    const stricter = { ...loaded, digest: 'another policy' }
    await expect(launchGate({ policy: stricter, skip: false, preflightCommand: command })(facts)).rejects.toThrow(
      GateRefusedError,
    )
  })

  it('gate: a later failing preflight of the same job does not replace its passing proof, and the refusal points at the failure', async () => {
    // The output of 20,000 items would not fit a disk with 1 byte free.
    const { evidence } = recorded('sound')
    const failed = await preflightOn(
      { jobPath: job, target: evidence.target, outDir: out },
      { ...evidence, freeBytes: 1 },
    )
    expect(failed.passed).toBe(false)
    expect(failed.proofPath).toMatch(/\.failed\.intoto\.jsonl$/)
    expect((await runCliHere(['run', job, '--out', out, '--total', String(TARGET)])).code).toBe(0)
    const refused = await runCliHere(['run', job, '--out', join(tempDir(), 'elsewhere'), '--total', String(TARGET)])
    expect(refused.code).toBe(3)
    const beyond = await runCliHere(['run', job, '--out', out, '--total', String(TARGET + 1)])
    expect(beyond.stderr).toMatch(/✘ its target covers this run/)
  })

  it('gate: a job changed by one byte is a different job, and its old proof does not count', async () => {
    writeFileSync(job, `${readFileSync(job, 'utf8')} `)
    const refused = await runCliHere(['run', job, '--out', join(tempDir(), 'changed'), '--total', String(TARGET)])
    expect(refused.code).toBe(3)
    expect(refused.stderr).toMatch(/✘ a proof for this exact job .*none/)
  })

  it('gate: --skip-preflight runs anyway and records the waiver in the journal, progress.json and status', async () => {
    const waived = join(tempDir(), 'waived')
    const ran = await runCliHere(['run', job, '--out', waived, '--total', '1200', '--skip-preflight'])
    expect(ran.code, ran.stderr).toBe(0)
    expect(JSON.parse(readFileSync(join(waived, 'progress.json'), 'utf8')).gate).toMatchObject({ status: 'waived' })
    const store = SqliteStore.open(join(waived, '.longhaul/journal.sqlite'), { readonly: true })
    const events = await store.events().finally(() => store.close())
    expect(events.map((e) => e.type)).toContain('gate-waived')
    const status = await runCliHere(['status', waived])
    expect(status.stdout).toMatch(/Launch gate:\s+WAIVED — running without a passing preflight proof/)
  })
})
