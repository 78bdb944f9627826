import { threadId } from 'node:worker_threads'

/**
 * For preflight's memory check (LONGHAUL_MEASURE_RETAINED=1 under
 * `node --expose-gc`): what this thread still holds after a full collection,
 * so garbage waiting for the collector is not mistaken for growth. Undefined
 * when not asked for (or gc is not exposed).
 */
export function retainedMemoryProbe(): (() => { thread: number; bytes: number }) | undefined {
  const gc = (globalThis as { gc?: () => void }).gc
  if (process.env.LONGHAUL_MEASURE_RETAINED !== '1' || typeof gc !== 'function') return undefined
  return () => {
    gc()
    const usage = process.memoryUsage()
    return { thread: threadId, bytes: usage.heapUsed + usage.arrayBuffers }
  }
}
