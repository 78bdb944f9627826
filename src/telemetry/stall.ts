/**
 * stall-detection: a live run that finishes nothing for `stallAfterMs` is
 * stalled; it is running again as soon as something finishes.
 */
export class StallDetector {
  private lastProgressAt: number
  private lastDone = -1
  private stalled = false

  constructor(
    private readonly stallAfterMs: number,
    startedAt: number,
  ) {
    this.lastProgressAt = startedAt
  }

  /**
   * Feeds the count of finished items at `now`; returns 'stalled' or
   * 'recovered' when the state changes, else undefined.
   */
  update(done: number, now: number): 'stalled' | 'recovered' | undefined {
    if (done !== this.lastDone) {
      this.lastDone = done
      this.lastProgressAt = now
      if (this.stalled) {
        this.stalled = false
        return 'recovered'
      }
      return undefined
    }
    if (!this.stalled && now - this.lastProgressAt >= this.stallAfterMs) {
      this.stalled = true
      return 'stalled'
    }
    return undefined
  }

  get isStalled(): boolean {
    return this.stalled
  }

  /** Seconds since anything finished. */
  quietSeconds(now: number): number {
    return (now - this.lastProgressAt) / 1000
  }
}
