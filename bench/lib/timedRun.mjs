/**
 * Runs a job to completion through `runMapJob` (passed in: each case imports the package its own way) and times it:
 * the whole call, its start (call → first commit), and the rate of the items committed after that first commit.
 * Throws unless the run completes.
 */
export async function timedRun(runMapJob, options) {
  const started = performance.now()
  let firstCommit
  let firstCommitted = 0
  const summary = await runMapJob({
    ...options,
    observer: {
      committed: ({ committed }) => {
        if (firstCommit === undefined) {
          firstCommit = performance.now()
          firstCommitted = committed
        }
      },
    },
  })
  const ended = performance.now()
  if (summary.state !== 'complete') throw new Error(`the run ended ${summary.state}`)
  return {
    wallMs: ended - started,
    startMs: firstCommit - started,
    afterStartItemsPerSecond: (options.total - firstCommitted) / ((ended - firstCommit) / 1000),
  }
}
