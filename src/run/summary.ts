/** What a session of a run returns, whatever its work: the CLI prints it, preflight reads it (as JSON) from its child runs. */
export interface RunSummary {
  readonly job: string
  readonly runId: string
  readonly dir: string
  readonly state: 'complete' | 'interrupted'
  readonly total: number
  readonly committed: number
  readonly committedThisSession: number
  readonly wallMs: number
  readonly itemsPerSecond: number
  readonly bytesWritten: number
  /** The longest any one item took this session, ms. */
  readonly slowestItemMs: number
  /** Memory the worker threads still held after their last range, after a full collection; null unless measured (preflight). */
  readonly retainedBytes: number | null
  /** The dataset digest; null unless complete. */
  readonly digest: string | null
  readonly resumed: boolean
}

/** The summary of a session that began at `startedAt` and ends at `endedAt`: its wall time and rate worked out here. */
export function sessionSummary(
  facts: Omit<RunSummary, 'wallMs' | 'itemsPerSecond'>,
  startedAt: number,
  endedAt: number,
): RunSummary {
  const wallMs = endedAt - startedAt
  return { ...facts, wallMs, itemsPerSecond: wallMs > 0 ? (facts.committedThisSession * 1000) / wallMs : 0 }
}
