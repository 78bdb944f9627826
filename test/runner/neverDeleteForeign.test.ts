/**
 * Never delete a file longhaul did not write: on resume, only names longhaul
 * can prove it wrote go from data/ (this run's staged names, its exact temp
 * names); anything else, however much it looks like a shard, is left, named
 * in a note, and listed by verify as stray.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { runMapJob, verifyRun } from '../../src/index.ts'
import { SqliteStore } from '../../src/journal/sqlite/sqliteStore.ts'
import { runTagOf } from '../../src/shards/shardNames.ts'
import { fixture, runCliHere, tempDir } from '../support/cli.ts'

const root = tempDir()

describe('never-delete-foreign-files', () => {
  it("look-alike names in data/ survive a resume, are reported by run and listed as stray by verify; only longhaul's own debris goes", async () => {
    const outDir = join(root, 'lookalikes')
    const args = ['run', fixture('squares.ts'), '--out', outDir, '--total', '100', '--workers', '2']
    // Interrupted half-way is not needed: a complete run resumes through the same recovery.
    const first = await runCliHere([...args, '--json'])
    expect(first.code, first.stderr).toBe(0)
    const store = SqliteStore.open(join(outDir, '.longhaul', 'journal.sqlite'), { readonly: true })
    const tag = runTagOf((await store.getRun())!.runId)
    await store.close()
    const data = join(outDir, 'data')
    const foreign = [
      '000000000000-000000000001.jsonl.bak', // a backup of a shard
      '0000000000-0000000001.jsonl', // another digit count
      '0000000000000-0000000000001.jsonl', // another digit count
      '000000000000-000000000001.csv', // a suffix this job never writes
      '000000000100-000000000150.jsonl', // a shard-like name this run never recorded: not provably ours
      '.tmp-notes.txt', // a temp prefix, but not our form
      '.tmp-0a1b2c-000000000000-000000000001.jsonl', // our prefix, but not 12 hex digits
      '.tmp-0a1b2c3d4e5f-000000000000-000000000001.jsonl.bak', // our form, but not a shard name
      '.claim-00000000-5-000000000000-000000000001.jsonl', // a staged name of another run
      `.claim-${tag}-5-000000000000-000000000001.jsonl.bak`, // this run's staged form, but not a shard name
      'README.md',
    ]
    for (const name of foreign) writeFileSync(join(data, name), `user file ${name}\n`)
    // And longhaul's own debris, provably its own: this run's staged shard and its exact temp form.
    const own = [`.claim-${tag}-99-000000000100-000000000150.jsonl`, '.tmp-0a1b2c3d4e5f-index.json']
    for (const name of own) writeFileSync(join(data, name), '{"i":1')

    const resumed = await runCliHere(args)
    expect(resumed.code, resumed.stderr).toBe(0)
    expect(resumed.stderr).toContain('removed 2 unrecorded file(s) left by an earlier crash')
    expect(resumed.stderr).toMatch(
      new RegExp(`left ${foreign.length} file\\(s\\) in .*data that this run did not write`),
    )
    for (const name of foreign) expect(readFileSync(join(data, name), 'utf8'), name).toBe(`user file ${name}\n`)
    for (const name of own) expect(existsSync(join(data, name)), name).toBe(false)

    const report = await verifyRun(outDir)
    expect(report.complete).toBe(false)
    expect([...report.stray].sort()).toEqual([...foreign].sort())
    expect(report.items).toBe(100)

    // The library resumes the same way, and still deletes none of them.
    await runMapJob({ jobPath: fixture('squares.ts'), outDir, total: 100, workers: 1 })
    for (const name of foreign) expect(existsSync(join(data, name)), name).toBe(true)
  })
})
