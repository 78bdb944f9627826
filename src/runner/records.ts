import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { UsageError } from '../errors.ts'
import type { JobIdentity } from '../job/fingerprint.ts'
import { formatFromDescription } from '../job/outputs/fromDescription.ts'
import { SqliteStore } from '../store/sqlite/sqliteStore.ts'
import { hasRun, runPaths } from './runDir.ts'

export interface RunRecords {
  /** Items committed. */
  readonly count: number
  /** Every committed record with its index, in index order, one shard in memory at a time. */
  records(): Generator<{ readonly index: number; readonly record: unknown }>
}

/** The committed records of the run in `dir`, read back from its shards. Read-only: never changes the run. */
export async function openRecords(dir: string): Promise<RunRecords> {
  if (!hasRun(dir)) throw new UsageError(`${dir} holds no longhaul run (no .longhaul/journal.sqlite). Give the --out folder of a run.`)
  const paths = runPaths(dir)
  const store = SqliteStore.open(paths.journal, { readonly: true })
  const ranges: { start: number; end: number; files: string[] }[] = []
  let format: ReturnType<typeof formatFromDescription>
  try {
    const run = await store.getRun()
    if (!run) throw new UsageError(`${dir} has a journal but no run in it; start the run again.`)
    format = formatFromDescription((JSON.parse(run.identity) as JobIdentity).output)
    for await (const range of store.ranges()) ranges.push({ start: range.start, end: range.end, files: range.files.map((f) => f.name) })
  } finally {
    await store.close()
  }
  return {
    count: ranges.reduce((sum, r) => sum + r.end - r.start, 0),
    *records() {
      for (const range of ranges) {
        const files = new Map<string, Buffer>()
        for (const name of range.files) {
          const suffix = format.suffixes.find((s) => name.endsWith(`.${s}`))
          if (suffix) files.set(suffix, readFileSync(join(paths.data, name)))
        }
        const records = format.readRecords(files, range.end - range.start)
        for (let i = 0; i < records.length; i++) yield { index: range.start + i, record: records[i] }
      }
    },
  }
}
