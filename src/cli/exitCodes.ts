import { InterruptedError, ItemFailedError, LonghaulError, NotDurableError, UsageError, LeaseLostError } from '../errors.ts'

/** DESIGN §2: 0 done, 1 job failed, 2 bad usage or input, 3 refused by the gate, 130 interrupted. */
export const EXIT = { ok: 0, failed: 1, usage: 2, refused: 3, interrupted: 130 } as const

export function exitCodeFor(error: unknown): number {
  if (error instanceof UsageError) return EXIT.usage
  if (error instanceof InterruptedError) return EXIT.interrupted
  if (error instanceof ItemFailedError || error instanceof NotDurableError || error instanceof LeaseLostError) return EXIT.failed
  if (error instanceof LonghaulError) return EXIT.failed
  return EXIT.failed
}
