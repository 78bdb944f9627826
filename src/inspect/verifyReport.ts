/** What `verify` found in a run folder. */
export interface VerifyReport {
  readonly dir: string
  readonly job: string
  readonly complete: boolean
  readonly total: number
  /** Items present, intact and counted once. */
  readonly items: number
  readonly missing: number
  readonly duplicates: number
  readonly corrupt: number
  /** Files in data/ that the journal does not record (debris of a crash not yet resumed). */
  readonly stray: readonly string[]
  /**
   * Recorded files found only under their staged names, whole (their items are counted in `items`): a crash cut their
   * rename short, and the next run of the job finishes it. Absent when there is none.
   */
  readonly unfinished?: readonly string[]
  /** The dataset digest; null unless the output is complete and clean. */
  readonly digest: string | null
  /** The first problems found, in words. */
  readonly problems: readonly string[]
  /** What `items` counts: steps for a loop. @default items */
  readonly unit?: 'items' | 'steps'
  /**
   * Set while a live process owns the run: only what is committed so far was
   * checked (files in flight are not stray, items not yet made are not
   * missing, index.json is written at the end), and `complete` is false.
   */
  readonly live?: { readonly pid: number; readonly host: string; readonly since: string }
  /** What is wrong with data/index.json, the file readers without longhaul go through; absent when it is right. */
  readonly readerIndex?: string
}
