/**
 * SIGINT / SIGTERM become an abort: the run stops making items, commits what
 * is finished and ends as `interrupted` (exit 130). A second signal means
 * "now": `onForce` is called (the CLI exits at once; nothing committed is lost,
 * since commits are atomic).
 */
export function interruptOnSignals(onForce: (signal: string) => void): { signal: AbortSignal; dispose: () => void } {
  const controller = new AbortController()
  const handler = (signal: NodeJS.Signals): void => {
    if (controller.signal.aborted) onForce(signal)
    else controller.abort(signal)
  }
  process.on('SIGINT', handler)
  process.on('SIGTERM', handler)
  return {
    signal: controller.signal,
    dispose: () => {
      process.off('SIGINT', handler)
      process.off('SIGTERM', handler)
    },
  }
}
