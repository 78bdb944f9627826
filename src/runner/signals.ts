/**
 * SIGINT / SIGTERM become an abort: the run stops making items, commits what
 * is finished and ends as `interrupted` (exit 130). A second signal means
 * "now": `onForce` is called (the CLI exits at once; nothing committed is lost,
 * since commits are atomic).
 */
export function interruptOnSignals(
  onForce: (signal: string) => void,
  options: { readonly signals?: readonly NodeJS.Signals[]; readonly onFirst?: (signal: NodeJS.Signals) => void } = {},
): { signal: AbortSignal; dispose: () => void } {
  const controller = new AbortController()
  const names = options.signals ?? ['SIGINT', 'SIGTERM']
  const handler = (signal: NodeJS.Signals): void => {
    if (controller.signal.aborted) return onForce(signal)
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
