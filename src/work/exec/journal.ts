import type { RunEventDetails, RunEventType, Store } from '../../journal/store.ts'

/**
 * The journal writes a supervised program's reports cause, from stream and
 * timer callbacks: each is tracked until it lands, so that the run's end
 * waits for them (`settle`), and a failed one is said, never thrown into a
 * stream handler.
 */
export class JournalWrites {
  private readonly pending = new Set<Promise<void>>()

  constructor(
    private readonly store: Store,
    private readonly now: () => number,
    private readonly note: (message: string) => void,
    /** False once the run is another process's (its lease was lost): nothing more is written. */
    private readonly owned: () => boolean,
  ) {}

  event<T extends RunEventType>(type: T, detail: RunEventDetails[T]): Promise<void> {
    if (!this.owned()) return Promise.resolve()
    return this.track(this.store.addEvent(type, detail, this.now()))
  }

  track(write: Promise<void>): Promise<void> {
    const tracked = write.catch((error: Error) => this.note(`cannot write to the journal: ${error.message}`))
    this.pending.add(tracked)
    void tracked.finally(() => this.pending.delete(tracked))
    return tracked
  }

  /** Resolves once every write made so far has landed or failed. */
  async settle(): Promise<void> {
    await Promise.allSettled([...this.pending])
  }
}
