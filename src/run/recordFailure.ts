import { LeaseLostError } from '../errors.ts'
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
  await store.addEvent('failed', detail, now()).catch(() => undefined)
  await progress?.end('failed', error.message)
}
