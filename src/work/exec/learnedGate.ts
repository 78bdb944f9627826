import type { LaunchFacts, LaunchGate } from '../../run/identify.ts'
import type { JournalWrites } from './journal.ts'

/**
 * The launch gate of an exec run given no --total (invariant gate): asked
 * again each time the program states a larger total of its own (protocol or
 * tqdm). A total the gate clears is journaled as its decision (`gate-…`,
 * with `learned: true`); one it refuses is journaled as `gate-refused` and
 * handed to `refused`, which stops the program. A program that never states
 * a total is never gated.
 */
export class LearnedTotalGate {
  private cleared = 0
  /** The gate's refusal of a total the program stated, once there is one. */
  refusal: Error | undefined

  constructor(
    private readonly gate: LaunchGate,
    private readonly facts: Omit<LaunchFacts, 'total'>,
    private readonly journal: JournalWrites,
    private readonly refused: (error: Error, total: number) => void,
  ) {}

  /** The program stated its total. */
  stated(total: number): void {
    if (this.refusal || !(total > this.cleared)) return
    this.cleared = total
    this.gate({ ...this.facts, total }).then(
      (clearance) => void this.journal.event(`gate-${clearance.status}`, { ...clearance, total, learned: true }),
      (error: Error) => {
        if (this.refusal) return
        this.refusal = error
        void this.journal.event('gate-refused', { total, learned: true, error: error.message })
        this.refused(error, total)
      },
    )
  }
}
