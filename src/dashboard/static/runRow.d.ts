// The types of what the server uses of runRow.js (a plain module of the page, written in JavaScript).

/** An element as runRow.js describes it: its tag, its attributes as strings, its children as text or elements. */
export interface Described {
  readonly tag: string
  readonly attrs: Readonly<Record<string, string>>
  readonly children: readonly (Described | string)[]
}

/** Rows the server writes into the page, and the page puts in at once. */
export declare const FIRST_ROWS: number

/** The list's frame and its first rows, in the list's order, for runs listed as /api/runs lists them. */
export declare function firstListed(runs: readonly object[], params: URLSearchParams): Described[]
