/**
 * The seam between the map runner and what makes a job's items. The runner
 * claims a range, hands it to a RangeMaker, and commits what comes back; a
 * maker only makes: items [start, stop) in order, their files written durably
 * under staged names, one hash per item, and a failure report if an item
 * stopped it. Whatever runs the items (JS worker threads today: threadPool.ts)
 * sits behind this interface.
 */
import { ItemFailedError, NotDurableError, UsageError, ValueNotRepresentableError } from '../../errors.ts'
import type { RangeResult, RangeTask, TaskFailure, WorkerSetup } from './task.ts'

export interface RangeMaker {
  /**
   * Makes the items of `task`, stopping early at its deadline, its size cap,
   * the run's stop flag or a failed item; resolves with what was made. Rejects
   * only when the maker itself broke (the job could not load): the job's failure.
   */
  make(task: RangeTask): Promise<RangeResult>
  /** Ends every thread or process it started; tasks still waiting are settled. */
  close(): Promise<void>
}

/** What starting a maker needs: what every maker is given once, how many ranges it makes at a time, and whom to tell if it breaks. */
export interface MakerStart {
  readonly setup: WorkerSetup
  readonly concurrency: number
  /** Ranges one thread makes at once (they share its items in flight). @default 1 */
  readonly rangesPerThread?: number
  /** Told once when the maker cannot go on (a thread that cannot even load the job): the run fails with it. */
  readonly onBroken: (error: Error) => void
}

/** The error a maker's failure report stands for. */
export function failureError(failure: TaskFailure, start: number, end: number): Error {
  switch (failure.kind) {
    case 'input':
      return new UsageError(
        `cannot read records ${start}–${end - 1} of the input: ${failure.message}`,
        'LONGHAUL_INPUT_INVALID',
      )
    case 'durability':
      return new NotDurableError(`the shard of items ${start}–${end - 1}`, new Error(failure.message))
    case 'item':
      return new ItemFailedError(failure.index ?? start, failure.attempts ?? 1, failure.message, failure.stack)
    case 'value':
      return new ValueNotRepresentableError(
        failure.index ?? start,
        failure.field ?? '',
        failure.value ?? '',
        failure.reason ?? failure.message,
        failure.stack,
      )
  }
}
