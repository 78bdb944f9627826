import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { expect, it } from 'vitest'
import { ROOT, runCli, runCliHere, tempDir } from '../support/cli.ts'

const DESCENT = join(ROOT, 'test/fixtures/loops/descent.ts')

it("verify a loop run: its checkpoints and final.bin check out and the digest is the run's; a changed byte in either is found", async () => {
  const out = join(tempDir(), 'loop')
  const ran = await runCli(['run', DESCENT, '--out', out, '--total', '200', '--json'], { CKPT_STEPS: '50', KEEP: '2' })
  expect(ran.code, ran.stderr).toBe(0)
  const { digest } = JSON.parse(ran.stdout) as { digest: string }
  const clean = await runCli(['verify', out, '--json'])
  expect(clean.code, clean.stderr).toBe(0)
  expect(JSON.parse(clean.stdout)).toMatchObject({
    complete: true,
    digest,
    items: 200,
    total: 200,
    corrupt: 0,
    unit: 'steps',
  })

  const final = join(out, 'data', 'final.bin')
  const bytes = readFileSync(final)
  bytes[100]! ^= 1
  writeFileSync(final, bytes)
  const changed = await runCliHere(['verify', out])
  expect(changed.code).toBe(1)
  expect(changed.stdout).toMatch(/final\.bin does not match the digest its run recorded/)

  const checkpoint = join(out, 'data', 'step-000000000200.ckpt')
  const ckpt = readFileSync(checkpoint)
  ckpt[ckpt.length - 1]! ^= 1
  writeFileSync(checkpoint, ckpt)
  const both = await runCliHere(['verify', out, '--json'])
  expect(JSON.parse(both.stdout)).toMatchObject({ complete: false, corrupt: 2 })
}, 60_000)

it('verify an exec run: nothing longhaul manages to verify, said as such (exit 2)', async () => {
  const out = join(tempDir(), 'exec')
  expect((await runCli(['exec', '--out', out, '--', 'true'])).code).toBe(0)
  const r = await runCliHere(['verify', out])
  expect(r.code).toBe(2)
  expect(r.stderr).toContain("holds a supervised program's run (longhaul exec)")
})
