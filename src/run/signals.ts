/**
 * SIGINT / SIGTERM become an abort: the run stops making items, commits what
 * is finished and ends as `interrupted` (exit 130). A second signal means
 * "now": the last words registered with `onForcedStop` run first (a run
 * records itself interrupted in its journal and progress files, so nothing
 * says RUNNING of a run that is gone), for at most `lastWordsMs`; then
 * `onForce` is called (the CLI exits at once; nothing committed is lost,
 * since commits are atomic). A third signal does not wait for the last words.
 */
export function interruptOnSignals(
  onForce: (signal: string) => void,
  options: {
    readonly signals?: readonly NodeJS.Signals[]
    readonly onFirst?: (signal: NodeJS.Signals) => void
    readonly lastWordsMs?: number
  } = {},
): { signal: AbortSignal; dispose: () => void } {
  const controller = new AbortController()
  const names = options.signals ?? ['SIGINT', 'SIGTERM']
  let forcing = false
  const handler = (signal: NodeJS.Signals): void => {
    if (forcing) {
      onForce(signal)
      return
    }
    if (controller.signal.aborted) {
      forcing = true
      void sayLastWords(options.lastWordsMs ?? 3_000).finally(() => onForce(signal))
      return
    }
    options.onFirst?.(signal)
    controller.abort(signal)
  }
  for (const name of names) process.on(name, handler)
  return {
    signal: controller.signal,
    dispose: () => {
      for (const name of names) process.off(name, handler)
    },
  }
}

const lastWords = new Set<() => Promise<void>>()

/** Registers what this process must still record if it is stopped at once (a second Ctrl-C); returns the way to unregister it. */
export function onForcedStop(fn: () => Promise<void>): () => void {
  lastWords.add(fn)
  return () => lastWords.delete(fn)
}

/** Runs every registered last word, together, for at most `ms`; never throws. */
async function sayLastWords(ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined
  const deadline = new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)))
  await Promise.race([Promise.allSettled([...lastWords].map((fn) => fn())), deadline])
  clearTimeout(timer)
}
