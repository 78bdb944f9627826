/**
 * The repair path: `longhaul doctor JOB --out DIR` rebuilds a lost or damaged
 * journal from the shards whose own bytes prove them. Real runs, real damage
 * (a truncated journal, a SIGKILLed run's write-ahead log deleted, a shard
 * with a flipped byte or cut short), a real process SIGKILLed: after doctor,
 * `run` makes only the missing items and `verify` prints the digest an
 * undamaged run has. Nothing is ever deleted. (`doctor`, `run` and `verify`
 * run the CLI's main in this process, as a command line would, without a
 * process start: nothing they check is about processes.)
 */
import { createHash } from 'node:crypto'
import { existsSync, readdirSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { fixture, killedAfterEach, referenceDigest, runCliHere, startCli, waitFor } from '../support/cli.ts'
import { completeRun, journal, SQUARES, shards } from '../support/completeRun.ts'

const { root, digest, damaged: copy } = completeRun('longhaul-doctor-', 300)
const job = SQUARES
const started = killedAfterEach()

const digestOf = (stdout: string): string | undefined => /digest {6}([0-9a-f]{64})/.exec(stdout)?.[1]

/**
 * Every file under `dir` with the sha256 of its bytes: what "changes nothing"
 * compares. Progress files aside, and the journal's -shm and an empty -wal:
 * SQLite makes these for any reader of a journal (verify too).
 */
function snapshot(dir: string): Record<string, string> {
  const files: Record<string, string> = {}
  const walk = (at: string, rel: string): void => {
    for (const entry of readdirSync(at, { withFileTypes: true })) {
      const path = join(at, entry.name)
      if (entry.isDirectory()) walk(path, `${rel}${entry.name}/`)
      else if (/^(progress\.json|PROGRESS\.txt|journal\.sqlite-shm)$/.test(entry.name)) continue
      else if (entry.name === 'journal.sqlite-wal' && readFileSync(path).length === 0) continue
      else files[`${rel}${entry.name}`] = createHash('sha256').update(readFileSync(path)).digest('hex')
    }
  }
  walk(dir, '')
  return files
}

describe('doctor-rebuilds-from-shards', () => {
  it('a complete run whose journal was truncated to 0 bytes: doctor adopts every shard, verify passes with the original digest, nothing is made again', async () => {
    const dir = copy((d) => truncateSync(journal(d), 0))
    const before = shards(dir)
    const damagedRun = await runCliHere(['run', job, '--out', dir, '--workers', '1', '--total', '300'])
    expect(damagedRun.code).toBe(2)
    expect(damagedRun.stderr).toMatch(/longhaul doctor JOB --out .* --fresh/)

    const doctor = await runCliHere(['doctor', job, '--out', dir])
    expect(doctor.code, doctor.stderr).toBe(0)
    expect(doctor.stdout).toMatch(/REBUILT {2}squares/)
    expect(doctor.stdout).toMatch(/damage {7}its journal \.longhaul\/journal\.sqlite is empty \(0 bytes\)/)
    expect(doctor.stdout).toMatch(new RegExp(`adopted {6}${before.length} range\\(s\\), 300 / 300 items`))
    expect(doctor.stdout).toMatch(/quarantined {2}0 file/)
    expect(doctor.stdout).toMatch(/old journal {2}\.longhaul\/journal\.sqlite\.damaged-\S+/)
    // The damaged journal is moved aside, never deleted.
    const aside = readdirSync(join(dir, '.longhaul')).filter((name) => /^journal\.sqlite\.damaged-[^-]+.*Z$/.test(name))
    expect(aside).toHaveLength(1)
    expect(readFileSync(join(dir, '.longhaul', aside[0]!)).length).toBe(0)

    const verify = await runCliHere(['verify', dir])
    expect(verify.code, verify.stdout).toBe(0)
    expect(digestOf(verify.stdout)).toBe(digest())
    const again = await runCliHere(['run', job, '--out', dir, '--workers', '1', '--total', '300', '--json'])
    expect(again.code, again.stderr).toBe(0)
    expect(JSON.parse(again.stdout).committedThisSession).toBe(0)
    expect(shards(dir)).toEqual(before)
  })

  it('a journal lost altogether (its files deleted): doctor rebuilds it and verify passes with the original digest', async () => {
    const dir = copy((d) => {
      for (const suffix of ['', '-wal', '-shm']) rmSync(`${journal(d)}${suffix}`, { force: true })
    })
    const doctor = await runCliHere(['doctor', job, '--out', dir, '--json'])
    expect(doctor.code, doctor.stderr).toBe(0)
    const report = JSON.parse(doctor.stdout) as { damage: string; adoptedItems: number; journalMovedTo: string[] }
    expect(report.damage).toBe('its journal .longhaul/journal.sqlite is missing')
    expect(report.adoptedItems).toBe(300)
    expect(report.journalMovedTo).toEqual([])
    const verify = await runCliHere(['verify', dir])
    expect(verify.code, verify.stdout).toBe(0)
    expect(digestOf(verify.stdout)).toBe(digest())
  })

  it('a SIGKILLed partial run whose write-ahead log was deleted: doctor, then run resumes to completion with the digest of an undamaged run', async () => {
    const dir = join(root, 'killed')
    const run = startCli(['run', job, '--out', dir, '--workers', '1', '--total', '400', '--checkpoint-every', '0.1'], {
      ITEM_MS: '15',
    })
    started.push(run.child)
    await waitFor('a few committed shards', () =>
      existsSync(join(dir, 'data')) && shards(dir).length >= 4 ? true : undefined,
    )
    run.child.kill('SIGKILL')
    await run.done
    rmSync(`${journal(dir)}-wal`)
    const before = shards(dir)
    const refused = await runCliHere(['verify', dir])
    expect(refused.code).toBe(2)
    expect(refused.stderr).toMatch(/write-ahead log .* is missing[\s\S]*longhaul doctor/)

    const doctor = await runCliHere(['doctor', job, '--out', dir, '--total', '400', '--json'])
    expect(doctor.code, doctor.stderr).toBe(0)
    const report = JSON.parse(doctor.stdout) as {
      outcome: string
      adoptedRanges: number
      adoptedItems: number
      total: number
      quarantined: { name: string }[]
    }
    expect(report.outcome).toBe('rebuilt')
    expect(report.adoptedRanges).toBe(before.length)
    expect(report.total).toBe(400)
    expect(report.adoptedItems).toBeGreaterThan(0)
    expect(report.adoptedItems).toBeLessThan(400)
    // Only a staged file of a range never recorded may be set aside; every shard with its final name proved itself.
    for (const file of report.quarantined) expect(file.name).toMatch(/^\.(claim|tmp)-/)

    const resumed = await runCliHere(['run', job, '--out', dir, '--workers', '2', '--total', '400', '--json'])
    expect(resumed.code, resumed.stderr).toBe(0)
    expect(JSON.parse(resumed.stdout).committedThisSession).toBe(400 - report.adoptedItems)
    const verify = await runCliHere(['verify', dir])
    expect(verify.code, verify.stdout).toBe(0)
    expect(digestOf(verify.stdout)).toBe(await referenceDigest(job, 400, join(root, 'reference-400')))
  }, 120_000)

  it('a shard with a flipped byte and one cut short are quarantined, not adopted, and run makes their items again', async () => {
    let flipped = ''
    let cut = ''
    const dir = copy((d) => {
      const names = shards(d)
      flipped = names[1]!
      cut = names[3]!
      const bytes = readFileSync(join(d, 'data', flipped))
      bytes[0] = bytes[0]! ^ 0x01 // '{' becomes 'z': the line is no longer JSON
      writeFileSync(join(d, 'data', flipped), bytes)
      truncateSync(join(d, 'data', cut), Math.floor(readFileSync(join(d, 'data', cut)).length / 2))
      truncateSync(journal(d), 0)
      // A staged file of a range its run never recorded (a crash before the commit): set aside too, or verify would find it stray.
      writeFileSync(join(d, 'data', '.claim-0a1b2c3d-7-000000000300-000000000310.jsonl'), '{"i":300}\n')
    })
    const items = (name: string): number => {
      const [start, end] = name.split('.')[0]!.split('-').map(Number)
      return end! - start!
    }
    const doctor = await runCliHere(['doctor', job, '--out', dir, '--total', '300'])
    expect(doctor.code, doctor.stderr).toBe(0)
    expect(doctor.stdout).toMatch(/quarantined {2}3 file\(s\)/)
    expect(doctor.stdout).toMatch(
      /\.claim-0a1b2c3d-7-000000000300-000000000310\.jsonl → \S+: a staged file whose range was never recorded as committed/,
    )
    expect(doctor.stdout).toContain(`${flipped} → .longhaul/quarantine/${flipped}.`)
    expect(doctor.stdout).toMatch(
      new RegExp(
        `${cut} → \\S+: not a well-formed jsonl shard of its ${items(cut)} items: the \\.jsonl file holds \\d+ complete lines, expected ${items(cut)}`,
      ),
    )
    expect(doctor.stdout).toMatch(
      /not a well-formed jsonl shard of its \d+ items: line 1 of the \.jsonl file is not JSON/,
    )
    expect(doctor.stdout).toMatch(new RegExp(`${300 - items(flipped) - items(cut)} / 300 items`))
    // Set aside, never deleted; no longer in data/.
    const quarantine = readdirSync(join(dir, '.longhaul', 'quarantine'))
    expect(quarantine.some((name) => name.startsWith(`${flipped}.`))).toBe(true)
    expect(quarantine.some((name) => name.startsWith(`${cut}.`))).toBe(true)
    expect(shards(dir)).not.toContain(flipped)
    expect(shards(dir)).not.toContain(cut)

    const resumed = await runCliHere(['run', job, '--out', dir, '--workers', '1', '--total', '300', '--json'])
    expect(resumed.code, resumed.stderr).toBe(0)
    expect(JSON.parse(resumed.stdout).committedThisSession).toBe(items(flipped) + items(cut))
    const verify = await runCliHere(['verify', dir])
    expect(verify.code, verify.stdout).toBe(0)
    expect(digestOf(verify.stdout)).toBe(digest())
  })

  it('two well-formed shards whose ranges overlap: neither is adopted, both are quarantined, and run makes their items again', async () => {
    let overlapping = ''
    let first = ''
    const dir = copy((d) => {
      first = shards(d)[0]!
      const second = shards(d)[1]!
      // Items 0 and 1 again, as one shard 0–1: well formed, but it overlaps the two shards that hold them.
      overlapping = '000000000000-000000000002.jsonl'
      writeFileSync(
        join(d, 'data', overlapping),
        Buffer.concat([readFileSync(join(d, 'data', first)), readFileSync(join(d, 'data', second))]),
      )
      truncateSync(journal(d), 0)
    })
    const doctor = await runCliHere(['doctor', job, '--out', dir, '--total', '300', '--json'])
    expect(doctor.code, doctor.stderr).toBe(0)
    const report = JSON.parse(doctor.stdout) as {
      quarantined: { name: string; reason: string }[]
      adoptedItems: number
    }
    expect(report.quarantined.map((file) => file.name)).toEqual(expect.arrayContaining([overlapping, first]))
    for (const file of report.quarantined) expect(file.reason).toMatch(/overlap another shard's/)
    const resumed = await runCliHere(['run', job, '--out', dir, '--workers', '1', '--total', '300', '--json'])
    expect(resumed.code, resumed.stderr).toBe(0)
    expect(JSON.parse(resumed.stdout).committedThisSession).toBe(300 - report.adoptedItems)
    const verify = await runCliHere(['verify', dir])
    expect(verify.code, verify.stdout).toBe(0)
    expect(digestOf(verify.stdout)).toBe(digest())
  })

  it('a healthy journal: doctor says there is nothing to do and changes nothing', async () => {
    const dir = copy(() => undefined)
    const before = snapshot(dir)
    const doctor = await runCliHere(['doctor', job, '--out', dir])
    expect(doctor.code, doctor.stderr).toBe(0)
    expect(doctor.stdout).toMatch(/HEALTHY {2}squares .*\n.*nothing to do, nothing was changed/)
    expect(snapshot(dir)).toEqual(before)
  })

  it("a job whose output format is not the shards' is refused (exit 2), nothing changed", async () => {
    const dir = copy((d) => truncateSync(journal(d), 0))
    const before = snapshot(dir)
    const doctor = await runCliHere(['doctor', fixture('blobs.ts'), '--out', dir])
    expect(doctor.code).toBe(2)
    expect(doctor.stderr).toMatch(
      /the job's output format \(npy: .*\) does not match the shards in .*data: data\/index\.json says they are jsonl\. Nothing was changed/,
    )
    expect(snapshot(dir)).toEqual(before)
  })

  it('a live run is refused (exit 2), nothing changed', async () => {
    const dir = join(root, 'live')
    const run = startCli(
      [
        'run',
        job,
        '--out',
        dir,
        '--workers',
        '1',
        '--total',
        '2000',
        '--checkpoint-every',
        '0.1',
        '--progress-every',
        '1',
      ],
      { ITEM_MS: '20' },
    )
    started.push(run.child)
    await waitFor('a committed shard', () =>
      existsSync(join(dir, 'data')) && shards(dir).length >= 1 && existsSync(join(dir, 'progress.json'))
        ? true
        : undefined,
    )
    const doctor = await runCliHere(['doctor', job, '--out', dir, '--total', '2000'])
    expect(doctor.code).toBe(2)
    expect(doctor.stderr).toMatch(new RegExp(`is being run by pid ${run.child.pid}`))
    expect(readdirSync(join(dir, '.longhaul')).some((name) => name.includes('damaged'))).toBe(false)
    run.child.kill('SIGKILL')
    await run.done
  })
})
