/**
 * checkpoint-fallback: when the newest checkpoint fails its checks (a changed
 * byte, a torn or emptied file, another job's), a resume moves it aside to
 * the quarantine (never deletes it), says so (a WARNING note and a
 * `checkpoint-corrupt` journal event), resumes from the one before, and still
 * ends in the bytes of a run that never went wrong.
 */
import { cpSync, readdirSync, readFileSync, truncateSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'
import { tempDir } from '../support/cli.ts'
import { ckpt, DESCENT, dataFiles, finalBytes, readJournal, runLoopHere, sha256 } from './support.ts'

// A checkpoint every 20 steps, no time-based ones: a complete run leaves steps 260, 280 and 300.
const env = { CKPT_STEPS: '20', CKPT_MS: '3600000', KEEP: '3' }
const root = tempDir('longhaul-loop-corrupt-')
const reference = join(root, 'reference')
const other = join(root, 'other')
let expected: Buffer

beforeAll(async () => {
  const [a, b] = await Promise.all([
    runLoopHere(DESCENT, reference, env),
    runLoopHere(DESCENT, other, { ...env, LOOP_PARAMS: '{"lr":0.1}' }),
  ])
  expect(a.code, a.stderr).toBe(0)
  expect(b.code, b.stderr).toBe(0)
  expect(dataFiles(reference)).toEqual(['final.bin', ckpt(260), ckpt(280), ckpt(300)])
  expected = finalBytes(reference)
})

const damage: [string, (path: string) => void, RegExp][] = [
  ['a changed byte in the state', (path) => flip(path, -100), /its state fails its sha256/],
  ['a changed byte in the header', (path) => flip(path, 60), /its header fails its checksum/],
  [
    'a torn write (the file cut in half)',
    (path) => truncateSync(path, Math.floor(readFileSync(path).length / 2)),
    /truncated/,
  ],
  ['an emptied file', (path) => truncateSync(path, 0), /truncated/],
  [
    'a whole checkpoint of another job',
    (path) => cpSync(join(other, 'data', ckpt(300)), path),
    /written by another job/,
  ],
]

function flip(path: string, at: number): void {
  const bytes = readFileSync(path)
  const offset = at < 0 ? bytes.length + at : at
  bytes[offset] = bytes[offset]! ^ 0x5a
  writeFileSync(path, bytes)
}

describe('checkpoint-fallback', () => {
  it.each(damage)(
    '%s in the newest checkpoint: moved aside with a warning, resumed from the one before, same final bytes',
    async (name, harm, reason) => {
      const out = join(root, name.replace(/\W+/g, '-'))
      cpSync(reference, out, { recursive: true })
      const newest = join(out, 'data', ckpt(300))
      harm(newest)
      const damaged = readFileSync(newest)

      const result = await runLoopHere(DESCENT, out, env)
      expect(result.code, result.stderr).toBe(0)
      expect(result.stderr).toMatch(
        /WARNING: corrupt checkpoint\(s\) moved to .*quarantine: step-000000000300\.ckpt \(.+\); resuming from the checkpoint at step 280/,
      )
      expect(result.stderr).toMatch(reason)
      const summary = JSON.parse(result.stdout)
      expect(summary).toMatchObject({
        state: 'complete',
        startStep: 280,
        corruptCheckpoints: 1,
        committedThisSession: 20,
        digest: sha256(expected),
      })
      expect(finalBytes(out).equals(expected)).toBe(true)

      // Moved aside, not deleted: the quarantine holds exactly the damaged bytes.
      const quarantined = readdirSync(join(out, '.longhaul', 'quarantine'))
      expect(quarantined).toEqual([expect.stringMatching(/^step-000000000300\.ckpt\.\d+$/)])
      expect(readFileSync(join(out, '.longhaul', 'quarantine', quarantined[0]!)).equals(damaged)).toBe(true)
      const { events } = await readJournal(out)
      const corrupt = events.filter((e) => e.type === 'checkpoint-corrupt')
      expect(corrupt).toEqual([
        expect.objectContaining({
          detail: expect.objectContaining({ file: ckpt(300), step: 300, reason: expect.stringMatching(reason) }),
        }),
      ])
      expect(events.findLast((e) => e.type === 'resumed')).toMatchObject({
        detail: { committed: 280, checkpoint: ckpt(280) },
      })
      // Made again from 280: the folder is whole again.
      expect(dataFiles(out)).toEqual(['final.bin', ckpt(260), ckpt(280), ckpt(300)])
    },
  )

  it('the two newest corrupt: both moved aside, resumed from the third, same final bytes', async () => {
    const out = join(root, 'two')
    cpSync(reference, out, { recursive: true })
    flip(join(out, 'data', ckpt(300)), -1)
    truncateSync(join(out, 'data', ckpt(280)), 10)
    const result = await runLoopHere(DESCENT, out, env)
    expect(result.code, result.stderr).toBe(0)
    expect(JSON.parse(result.stdout)).toMatchObject({ startStep: 260, corruptCheckpoints: 2, digest: sha256(expected) })
    expect(readdirSync(join(out, '.longhaul', 'quarantine'))).toHaveLength(2)
  })

  it('every checkpoint corrupt: the loop starts again from init, with a warning, and still ends in the same bytes', async () => {
    const out = join(root, 'all')
    cpSync(reference, out, { recursive: true })
    for (const step of [260, 280, 300]) flip(join(out, 'data', ckpt(step)), -1)
    const result = await runLoopHere(DESCENT, out, env)
    expect(result.code, result.stderr).toBe(0)
    expect(result.stderr).toMatch(/resuming from the start \(init\), as no checkpoint verifies/)
    expect(JSON.parse(result.stdout)).toMatchObject({
      startStep: 0,
      corruptCheckpoints: 3,
      committedThisSession: 300,
      digest: sha256(expected),
    })
  })
})
