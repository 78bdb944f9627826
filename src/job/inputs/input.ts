/**
 * An input makes a job's items the records of something that already exists:
 * the lines of a JSONL file, the rows of a CSV, a list of files. The record
 * number is the item index, so a resumed run reads record i directly instead
 * of re-reading everything before it.
 */

/** What scanning an input once, on the coordinating thread, finds. */
export interface InputScan {
  /** Number of records: the run's total. */
  readonly count: number
  /** sha256 of the input's content: part of the job fingerprint, so a changed input is not resumed. */
  readonly digest: string
  /** Structured-cloneable state handed to every worker (offsets, paths). */
  readonly handle: unknown
}

export interface InputSource<R> {
  readonly kind: 'jsonl' | 'csv' | 'files'
  /** Where the input is, as the user gave it. */
  readonly description: Readonly<Record<string, unknown>>
  /** Reads the whole input once; throws an InputError naming the first bad record. */
  scan(): Promise<InputScan>
  /** In a worker: a function returning records [start, end) from the scan's handle. */
  reader(handle: unknown): (start: number, end: number) => R[]
}
