import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { UsageError } from '../errors.ts'
import { hasRun, runPaths } from '../files/runDir.ts'
import type { JobIdentity } from '../job/fingerprint.ts'
import type { OutputFormat } from '../job/outputs/format.ts'
import { formatFromDescription } from '../job/outputs/fromDescription.ts'
import { openStore } from '../journal/openStore.ts'

export interface RunRecords {
  /** Items committed. */
  readonly count: number
  /** Every committed record with its index, in index order; one shard is in memory at a time. */
  records(): Generator<{ readonly index: number; readonly record: unknown }>
}

interface ShardRange {
  readonly start: number
  readonly end: number
  /** File names in data/, as the journal records them. */
  readonly files: readonly string[]
}

/**
 * The committed records of the run in `dir`, in index order, read from its
 * shards. Read-only: never changes the run.
 */
export async function openRecords(dir: string): Promise<RunRecords> {
  if (!hasRun(dir))
    throw new UsageError(`${dir} holds no longhaul run (no .longhaul/journal.sqlite). Give the --out folder of a run.`)
  const paths = runPaths(dir)
  const { format, ranges } = await readJournal(paths.journal, dir)
  return {
    count: ranges.reduce((sum, range) => sum + range.end - range.start, 0),
    *records() {
      for (const range of ranges) {
        const records = format.readRecords(readShard(paths.data, range, format), range.end - range.start)
        for (let i = 0; i < records.length; i++) yield { index: range.start + i, record: records[i] }
      }
    },
  }
}

/** The run's output format and committed ranges; the journal is closed again before this returns. */
async function readJournal(journal: string, dir: string): Promise<{ format: OutputFormat; ranges: ShardRange[] }> {
  const store = await openStore({ file: journal, readonly: true })
  try {
    const run = await store.getRun()
    if (!run) throw new UsageError(`${dir} has a journal but no run in it; start the run again.`)
    const format = formatFromDescription((JSON.parse(run.identity) as JobIdentity).output)
    const ranges: ShardRange[] = []
    for await (const range of store.ranges())
      ranges.push({ start: range.start, end: range.end, files: range.files.map((file) => file.name) })
    return { format, ranges }
  } finally {
    await store.close()
  }
}

/** One shard's files, keyed by the format's suffixes. */
function readShard(dataDir: string, range: ShardRange, format: OutputFormat): Map<string, Buffer> {
  const files = new Map<string, Buffer>()
  for (const name of range.files) {
    const suffix = format.suffixes.find((s) => name.endsWith(`.${s}`))
    if (suffix) files.set(suffix, readFileSync(join(dataDir, name)))
  }
  return files
}
