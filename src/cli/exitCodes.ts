import { GateRefusedError, InterruptedError, UsageError } from '../errors.ts'

/** DESIGN §2: 0 done, 1 job failed, 2 bad usage or input, 3 refused by the gate, 130 interrupted. */
export const EXIT = { ok: 0, failed: 1, usage: 2, refused: 3, interrupted: 130 } as const

export function exitCodeFor(error: unknown): number {
  // Anything else (an item that failed, a write that may not be durable, a lost lease) failed the job; committed work stays.
  if (error instanceof GateRefusedError) return EXIT.refused
  if (error instanceof InterruptedError) return EXIT.interrupted
  return error instanceof UsageError ? EXIT.usage : EXIT.failed
}
