import { ItemFailedError, LeaseLostError, ValueNotRepresentableError } from '../errors.ts'
import type { EndEvent } from '../journal/events.ts'
import type { Store } from '../journal/store.ts'
import type { ProgressLoop } from './progressLoop.ts'

/**
 * A run that failed is recorded as failed in its journal and progress files,
 * unless its lease was lost: then the run belongs to another process, and
 * nothing is written to its journal or files. Best-effort: the original
 * error is what the caller throws.
 */
export async function recordFailure(
  store: Store,
  progress: ProgressLoop | undefined,
  error: Error,
  now: () => number,
  detail: EndEvent = { error: error.message },
): Promise<void> {
  if (error instanceof LeaseLostError) {
    progress?.stop()
    return
  }
  await store.setState('failed', now()).catch(() => undefined)
  await store.addEvent('failed', { ...detail, ...itemOf(error) }, now()).catch(() => undefined)
  await progress?.end('failed', error.message)
}

/** The item an error is about, and the job's own stack, kept in the journal for the run's page. */
function itemOf(error: Error): Pick<EndEvent, 'item' | 'attempts' | 'stack'> {
  if (error instanceof ItemFailedError)
    return { item: error.index, attempts: error.attempts, ...(error.itemStack && { stack: error.itemStack }) }
  if (error instanceof ValueNotRepresentableError)
    return { item: error.index, attempts: 1, ...(error.itemStack && { stack: error.itemStack }) }
  return {}
}
