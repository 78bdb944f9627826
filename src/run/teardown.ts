/**
 * Teardown in reverse order of set-up, keeping the first error: each step is
 * registered with `defer` once what it undoes exists, and `close` runs them
 * last first. A step that throws does not stop the ones after it; once all
 * have run, `close` throws the first error.
 */
export class Teardown {
  private readonly steps: (() => unknown)[] = []

  /** Registers a step to run at `close`, before every step registered earlier. */
  defer(step: () => unknown): void {
    this.steps.push(step)
  }

  async close(): Promise<void> {
    let first: { readonly error: unknown } | undefined
    for (let step = this.steps.pop(); step; step = this.steps.pop()) {
      try {
        await step()
      } catch (error) {
        first ??= { error }
      }
    }
    if (first) throw first.error
  }
}
