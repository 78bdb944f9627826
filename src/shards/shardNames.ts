/**
 * Shard files are named by their item range, [start, end) zero-padded, so
 * that sorting names sorts items: `000000000000-000000001000.video.npy`.
 *
 * Before the journal records a range, its files exist only under a staged
 * name that carries the run and the claim they were made under:
 * `.claim-<run tag>-<claim token>-<final name>`. A reader globbing
 * `data/*.jsonl` never sees one (dot files), and a process that lost its
 * claim leaves nothing behind that looks like output. Only a recorded commit
 * makes the final name (ShardPlace.finalize).
 */
const DIGITS = 12

export function shardFileName(start: number, end: number, suffix: string): string {
  return `${String(start).padStart(DIGITS, '0')}-${String(end).padStart(DIGITS, '0')}.${suffix}`
}

/** True for exactly the names shardFileName makes with one of `suffixes` (the job's output format's). */
export function isShardFileName(name: string, suffixes: readonly string[]): boolean {
  const match = SHARD.exec(name)
  return match !== null && suffixes.includes(match[3]!) && Number(match[1]) < Number(match[2])
}

/** True for names of shardFileName's form with any suffix: for spotting damage, never for deciding what to delete. */
export function hasShardShape(name: string): boolean {
  return SHARD.test(name)
}

const SHARD = new RegExp(`^(\\d{${DIGITS}})-(\\d{${DIGITS}})\\.(.+)$`)

/** The part of a run's id its staged names carry: which run they belong to. */
export function runTagOf(runId: string): string {
  return runId
    .replace(/[^0-9a-zA-Z]/g, '')
    .slice(0, 8)
    .toLowerCase()
}

export const STAGED_PREFIX = '.claim-'

/** The name a range's file has until its commit is recorded. */
export function stagedFileName(runTag: string, token: number, finalName: string): string {
  return `${STAGED_PREFIX}${runTag}-${token}-${finalName}`
}

/**
 * The claim token and final name of a staged name of run `runTag` with one of
 * `suffixes`; undefined for any other name (another run's, or not ours at all).
 */
export function parseStagedName(
  name: string,
  runTag: string,
  suffixes: readonly string[],
): { token: number; finalName: string } | undefined {
  const head = `${STAGED_PREFIX}${runTag}-`
  if (!name.startsWith(head)) return undefined
  const match = /^([1-9]\d{0,15})-(.+)$/.exec(name.slice(head.length))
  if (!match || !isShardFileName(match[2]!, suffixes)) return undefined
  return { token: Number(match[1]), finalName: match[2]! }
}

/** A staged file of a listing: its name and size. */
export interface StagedCopy {
  readonly staged: string
  readonly bytes: number
}

/**
 * The staged names of run `runTag` in `listing` (a folder's data/, a bucket's
 * staging area: name → size), by the final name each stands for. A crash
 * between the journal's record and the rename leaves such a copy; a final
 * name may have several (claims of the same range lost in turn).
 */
export function stagedByFinalName(
  listing: ReadonlyMap<string, number>,
  runTag: string,
  suffixes: readonly string[],
): Map<string, StagedCopy[]> {
  const byFinal = new Map<string, StagedCopy[]>()
  for (const [staged, bytes] of listing) {
    const parsed = parseStagedName(staged, runTag, suffixes)
    if (parsed) byFinal.set(parsed.finalName, [...(byFinal.get(parsed.finalName) ?? []), { staged, bytes }])
  }
  return byFinal
}

/** The index of shard ranges people and other tools read: data/index.json. */
export const INDEX_FILE = 'index.json'
