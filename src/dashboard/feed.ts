import type { IndexChange, RootIndex } from './rootIndex.ts'
import type { RunItem } from './runs.ts'

/** What one live connection follows: every run (the list page), and/or some runs by id (run pages). */
export interface Interest {
  readonly list: boolean
  readonly runs: ReadonlySet<string>
}

type Listener = (change: IndexChange) => void

/**
 * Live updates for the server-sent events, from the one index of the root:
 * a connection is told what changed that it follows (only the runs that
 * changed: a diff), never a list of everything. However many connections are
 * open, the root is read by the index's one timer.
 */
export class RunFeed {
  private subscribers = 0

  constructor(private readonly index: RootIndex) {}

  get clients(): number {
    return this.subscribers
  }

  /**
   * Calls `listener` now with the current status of the runs `interest` names, if any (not the whole list: a
   * list page has just fetched it), then with every change it follows; returns the unsubscribe.
   */
  subscribe(interest: Interest, listener: Listener): () => void {
    this.subscribers++
    const current = [...interest.runs].map((id) => this.index.find(id)).filter((item) => item !== undefined)
    const version = this.index.version
    if (current.length > 0) listener({ version, since: version, upserts: current, removed: [] })
    const unsubscribe = this.index.onChange((change) => {
      const seen = interest.list ? change : only(change, interest.runs)
      if (seen.upserts.length > 0 || seen.removed.length > 0) listener(seen)
    })
    let open = true
    return () => {
      if (!open) return
      open = false
      this.subscribers--
      unsubscribe()
    }
  }
}

/** The part of a change about these runs. */
function only(change: IndexChange, ids: ReadonlySet<string>): IndexChange {
  const upserts: RunItem[] = change.upserts.filter((item) => ids.has(item.id))
  return { version: change.version, upserts, removed: change.removed.filter((gone) => ids.has(gone.id)) }
}
