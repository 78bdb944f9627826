/**
 * The repair path for a run whose journal is lost, truncated, garbled, or
 * lost its write-ahead log: a new journal rebuilt from the shards whose bytes
 * prove themselves. A journal records the job's identity, which a lost one no
 * longer holds, so the user names the job, params and seed the run was made
 * with (as `run` takes them); each exactly named shard set of that job's
 * format in data/ whose files are all there, parse with the format and hold
 * exactly their range's items is recorded again, through the Store like any
 * commit. Nothing is deleted: the damaged journal's files and every shard
 * file that cannot be adopted (partial, unparsable, overlapping) are moved
 * aside into .longhaul/, and said so.
 *
 * What bytes alone cannot prove: a change that leaves a shard well formed
 * (one digit of a JSON line altered) is adopted as it is, since the only
 * record of the original hashes was the lost journal.
 */
import { createHash, randomUUID } from 'node:crypto'
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs'
import { basename, join } from 'node:path'
import { type LonghaulError, RunDamagedError, RunOwnedError, UsageError } from '../errors.ts'
import { fsyncDir, TEMP_PREFIX } from '../files/atomicFile.ts'
import { type RunPaths, runPaths } from '../files/runDir.ts'
import type { OutputFormat } from '../job/outputs/format.ts'
import { type JournalFile, openStore } from '../journal/openStore.ts'
import type { Claim, ShardFileRecord } from '../journal/store.ts'
import { assertSameJob, identifyJob, type RunTarget } from '../run/identify.ts'
import { assertJournalHoldsShards, assertNoLiveOwner, assertRunLayout, dataNames } from '../run/runDamage.ts'
import { processAliveHere } from '../run/runStatus.ts'
import { writeReaderIndex } from '../shards/readerIndex.ts'
import { hasShardShape, INDEX_FILE, isShardFileName } from '../shards/shardNames.ts'
import { folderPlace } from '../shards/shardPlace.ts'

export interface DoctorOptions extends Pick<RunTarget, 'jobPath' | 'outDir' | 'seed' | 'params' | 'total'> {
  readonly now?: () => number
}

export interface QuarantinedFile {
  readonly name: string
  readonly reason: string
  /** Where it is now. */
  readonly movedTo: string
}

export type DoctorReport =
  | {
      readonly outcome: 'healthy'
      readonly dir: string
      readonly job: string
      readonly committed: number
      readonly total: number
    }
  | {
      readonly outcome: 'rebuilt'
      readonly dir: string
      readonly job: string
      /** What was wrong with the journal, in words. */
      readonly damage: string
      readonly adoptedRanges: number
      readonly adoptedItems: number
      readonly total: number
      readonly quarantined: readonly QuarantinedFile[]
      /** The damaged journal's files, moved aside (none when it was lost). */
      readonly journalMovedTo: readonly string[]
    }

/** A shard set in data/ that proved itself: its range, its files, its items' hashes. */
interface Adoptable {
  readonly start: number
  readonly end: number
  readonly files: readonly ShardFileRecord[]
  readonly itemHashes: Buffer
}

const RANGE = /^(\d{12})-(\d{12})\.(.+)$/
const STAGED = /^\.claim-[0-9a-z]{1,8}-[1-9]\d{0,15}-(.+)$/

/**
 * Rebuilds the journal of the run in `outDir` from its shards; a healthy
 * journal is left as it is. Refuses (UsageError, nothing changed) a live run,
 * a run folder of another job, and a job whose output format is not the
 * shards'.
 */
export async function doctorRun(options: DoctorOptions): Promise<DoctorReport> {
  const now = options.now ?? Date.now
  const paths = runPaths(options.outDir)
  if (existsSync(paths.storeLink)) {
    throw new UsageError(
      `${options.outDir} keeps its journal in PostgreSQL (.longhaul/store.json): doctor rebuilds only a run folder's own SQLite journal.`,
    )
  }
  const { job, input, identity, fingerprint } = await identifyJob(options)
  const format = job.output
  assertRunLayout(paths)
  assertNoLiveOwner(paths.dir, now())
  // Listed before the journal is read, as run does: a shard in data/ was claimed in the journal before it was made.
  const names = dataNames(paths)
  const damage = await journalDamage(paths, names, format.suffixes, { fingerprint, identity })
  if (typeof damage !== 'string') return { outcome: 'healthy', dir: paths.dir, job: job.name, ...damage }

  assertFormatMatches(paths, names, format)
  const { adopted, rejected } = scanShards(paths, names, format, options.total)
  const total = Math.max(options.total ?? job.total ?? input?.count ?? 0, adopted.at(-1)?.end ?? 0)
  if (total === 0)
    throw new UsageError(
      `job '${job.name}' sets no total and no shard could be adopted; pass --total N as given to \`longhaul run\``,
    )

  const stamp = new Date(now()).toISOString().replace(/[:.]/g, '-')
  // The new journal is made whole under a temporary name and moved into place last: a doctor stopped half-way leaves the damaged journal in place.
  const building = join(paths.internal, `.rebuilding-${process.pid}-${basename(paths.journal)}`)
  for (const suffix of ['', '-wal', '-shm']) rmSync(`${building}${suffix}`, { force: true })
  const quarantined: QuarantinedFile[] = []
  const adoptedItems = adopted.reduce((n, range) => n + range.end - range.start, 0)
  const store = await openStore({ file: building })
  try {
    await store.createRun({
      runId: randomUUID(),
      job: job.name,
      fingerprint,
      identity: JSON.stringify(identity),
      total,
      kind: 'map',
      createdAt: now(),
    })
    await recordRanges(store, adopted, now())
    await store.addEvent(
      'rebuilt',
      { damage, adoptedRanges: adopted.length, adoptedItems, quarantined: rejected.length },
      now(),
    )
    await store.setState(adoptedItems === total ? 'complete' : 'interrupted', now())
  } finally {
    await store.close()
  }
  // Closing the last connection copies the log into the file and removes it: the file alone must hold the new journal before it is moved.
  if ((statSync(`${building}-wal`, { throwIfNoEntry: false })?.size ?? 0) > 0) {
    throw new Error(`the rebuilt journal ${building} kept a write-ahead log after it was closed; nothing was moved`)
  }
  try {
    if (rejected.length > 0) mkdirSync(paths.quarantine, { recursive: true })
    for (const { name, reason } of rejected) {
      const movedTo = join(paths.quarantine, `${name}.${stamp}`)
      renameSync(join(paths.data, name), movedTo)
      quarantined.push({ name, reason, movedTo })
    }
    if (rejected.length > 0) {
      fsyncDir(paths.quarantine)
      fsyncDir(paths.data)
    }
    for (const suffix of ['', '-wal', '-shm']) {
      const from = `${paths.journal}${suffix}`
      if (!existsSync(from)) continue
      const to = `${paths.journal}.damaged-${stamp}${suffix}`
      renameSync(from, to)
    }
    renameSync(building, paths.journal)
    fsyncDir(paths.internal)
  } finally {
    for (const suffix of ['', '-wal', '-shm']) rmSync(`${building}${suffix}`, { force: true })
  }
  const rebuilt = await openStore({ file: paths.journal })
  try {
    await writeReaderIndex(rebuilt, folderPlace(paths.data), format.kind)
    return {
      outcome: 'rebuilt',
      dir: paths.dir,
      job: job.name,
      damage,
      adoptedRanges: adopted.length,
      adoptedItems,
      total,
      quarantined,
      journalMovedTo: listMovedJournal(paths, stamp),
    }
  } finally {
    await rebuilt.close()
  }
}

function listMovedJournal(paths: RunPaths, stamp: string): string[] {
  return ['', '-wal', '-shm']
    .map((suffix) => `${paths.journal}.damaged-${stamp}${suffix}`)
    .filter((path) => existsSync(path))
}

/**
 * What is wrong with the folder's journal, in words; or, when nothing is,
 * what it holds. A live owner in a readable journal refuses; a damaged
 * journal that still names its run refuses a different job.
 */
async function journalDamage(
  paths: RunPaths,
  names: readonly string[],
  suffixes: readonly string[],
  job: { fingerprint: string; identity: Parameters<typeof assertSameJob>[2] },
): Promise<string | { committed: number; total: number }> {
  if (!existsSync(paths.journal)) {
    if (!names.some(hasShardShape))
      throw new UsageError(
        `${paths.dir} holds no journal (.longhaul/journal.sqlite) and no shard files in data/: there is no run to rebuild.`,
      )
    return 'its journal .longhaul/journal.sqlite is missing'
  }
  let store: JournalFile
  try {
    store = await openStore({ file: paths.journal, readonly: true })
  } catch (error) {
    if (error instanceof RunDamagedError) return damageOf(error)
    throw error
  }
  try {
    const run = await store.getRun()
    const owner = await store.getOwner()
    if (run && owner && owner.expiresAt > Date.now() && processAliveHere(owner.host, owner.pid)) {
      throw new RunOwnedError(paths.dir, {
        pid: owner.pid,
        host: owner.host,
        since: new Date(owner.since).toISOString(),
        expiresAt: new Date(owner.expiresAt).toISOString(),
      })
    }
    try {
      assertJournalHoldsShards(
        paths,
        names,
        { run: run !== undefined, frontier: await store.frontier(), ...(run && { total: run.total }) },
        suffixes,
      )
    } catch (error) {
      if (!(error instanceof RunDamagedError)) throw error
      // What is left of the journal still names its job: rebuilding it as another job's would mix two jobs' items.
      assertSameJob(
        paths.dir,
        run,
        job.identity,
        job.fingerprint,
        'Give doctor the job, params and seed the run was made with.',
      )
      return damageOf(error)
    }
    if (!run)
      throw new UsageError(
        `${paths.dir} holds a journal with no run in it and no shard files: there is nothing to rebuild; start the run with \`longhaul run\`.`,
      )
    return { committed: await store.committedItems(), total: run.total }
  } catch (error) {
    if (error instanceof RunDamagedError) return damageOf(error)
    throw error
  } finally {
    await store.close()
  }
}

/** The damage a RunDamagedError names, without its advice. */
function damageOf(error: LonghaulError): string {
  const match = /is damaged: (.*?)\. (To keep|The shard files|If you have|Move )/s.exec(error.message)
  return match ? match[1]! : error.message
}

/** The job's output format is the shards': by data/index.json's word, and by the names in data/. */
function assertFormatMatches(paths: RunPaths, names: readonly string[], format: OutputFormat): void {
  const refuse = (why: string): never => {
    throw new UsageError(
      `the job's output format (${format.kind}: ${format.suffixes.map((s) => `.${s}`).join(', ')}) does not match the shards in ${paths.data}: ${why}. Nothing was changed. Give doctor the job the run was made with.`,
    )
  }
  if (names.includes(INDEX_FILE)) {
    try {
      const index = JSON.parse(readFileSync(join(paths.data, INDEX_FILE), 'utf8')) as { format?: unknown }
      if (typeof index.format === 'string' && index.format !== format.kind)
        refuse(`data/${INDEX_FILE} says they are ${index.format}`)
    } catch (error) {
      if (error instanceof UsageError) throw error
      // An unreadable index says nothing: it is rewritten from the new journal.
    }
  }
  const shaped = names.filter(hasShardShape)
  if (shaped.length > 0 && !shaped.some((name) => isShardFileName(name, format.suffixes))) {
    refuse(
      `none of the ${shaped.length} shard file(s) there (${shaped.slice(0, 3).join(', ')}${shaped.length > 3 ? ', …' : ''}) has its suffixes`,
    )
  }
}

/**
 * The shard sets in data/ that prove themselves, in index order, and the
 * files that cannot be adopted, each with why: a range with a file missing,
 * one whose bytes are not a well-formed shard of exactly its items, ranges
 * that overlap, a range past an explicit total, and the staged and temporary
 * files of writes never recorded.
 */
function scanShards(
  paths: RunPaths,
  names: readonly string[],
  format: OutputFormat,
  total: number | undefined,
): { adopted: Adoptable[]; rejected: { name: string; reason: string }[] } {
  const rejected: { name: string; reason: string }[] = []
  const sets = new Map<string, { start: number; end: number; names: string[] }>()
  for (const name of names) {
    if (isShardFileName(name, format.suffixes)) {
      const match = RANGE.exec(name)!
      const key = `${match[1]}-${match[2]}`
      const set = sets.get(key) ?? { start: Number(match[1]), end: Number(match[2]), names: [] }
      set.names.push(name)
      sets.set(key, set)
      continue
    }
    const staged = STAGED.exec(name)
    if (staged && isShardFileName(staged[1]!, format.suffixes))
      rejected.push({ name, reason: 'a staged file whose range was never recorded as committed' })
    else if (name.startsWith(TEMP_PREFIX) && format.suffixes.some((suffix) => name.endsWith(`.${suffix}`)))
      rejected.push({ name, reason: 'a temporary file of a write that never finished' })
  }
  const proved: Adoptable[] = []
  for (const set of [...sets.values()].sort((a, b) => a.start - b.start || a.end - b.end)) {
    const reason = total !== undefined && set.end > total ? `its range ends past --total ${total}` : undefined
    const result = reason ?? proveSet(paths, set, format)
    if (typeof result === 'string') rejected.push(...set.names.map((name) => ({ name, reason: result })))
    else proved.push(result)
  }
  // Ranges that overlap cannot both be the run's: neither is adopted, their items are made again.
  const overlapping = new Set<Adoptable>()
  for (let i = 0; i < proved.length; i++) {
    for (let j = i + 1; j < proved.length && proved[j]!.start < proved[i]!.end; j++) {
      overlapping.add(proved[i]!)
      overlapping.add(proved[j]!)
    }
  }
  for (const range of overlapping) {
    rejected.push(
      ...range.files.map((file) => ({
        name: file.name,
        reason: `its items ${range.start}–${range.end - 1} overlap another shard's`,
      })),
    )
  }
  return {
    adopted: proved.filter((range) => !overlapping.has(range)),
    rejected: rejected.sort((a, b) => a.name.localeCompare(b.name)),
  }
}

/** One range's files read back: adoptable, or why not. */
function proveSet(
  paths: RunPaths,
  set: { start: number; end: number; names: string[] },
  format: OutputFormat,
): Adoptable | string {
  const contents = new Map<string, Buffer>()
  const files: ShardFileRecord[] = []
  for (const suffix of format.suffixes) {
    const name = `${RANGE.exec(set.names[0]!)![1]}-${RANGE.exec(set.names[0]!)![2]}.${suffix}`
    if (!set.names.includes(name)) return `its range's .${suffix} file is missing (a partial shard)`
    const bytes = readFileSync(join(paths.data, name))
    contents.set(suffix, bytes)
    files.push({ name, bytes: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex') })
  }
  const count = set.end - set.start
  try {
    const itemHashes = format.itemHashes(contents, count)
    format.readRecords(contents, count)
    return { start: set.start, end: set.end, files, itemHashes }
  } catch (error) {
    return `not a well-formed ${format.kind} shard of its ${count} items: ${(error as Error).message}`
  }
}

/**
 * Records the adopted ranges through the Store as any commit is: each under
 * a claim of exactly its items. The items between them are claimed while
 * the ranges are recorded, then given back, free for `run` to make.
 */
async function recordRanges(store: JournalFile, adopted: readonly Adoptable[], now: number): Promise<void> {
  const worker = `doctor:${process.pid}`
  const TTL = 60_000
  const gaps: Claim[] = []
  let frontier = 0
  for (const range of adopted) {
    while (frontier < range.start) {
      const gap = await store.claimRange(worker, range.start - frontier, TTL, now)
      if (!gap) throw new Error(`the new journal handed out no claim at item ${frontier}`)
      gaps.push(gap)
      frontier = gap.end
    }
    const claim = await store.claimRange(worker, range.end - range.start, TTL, now)
    if (!claim || claim.start !== range.start || claim.end !== range.end)
      throw new Error(`the new journal handed out ${JSON.stringify(claim)} for items ${range.start}–${range.end - 1}`)
    await store.commitRange(claim, range, now)
    frontier = range.end
  }
  for (const gap of gaps) await store.releaseClaim(gap)
}
