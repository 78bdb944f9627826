import type { Hono } from 'hono'
import { liveOutputOf, programLivesOf } from './programProgress.ts'
import type { RootIndex } from './rootIndex.ts'
import { runFacts } from './runFacts.ts'
import { runHistory } from './runHistory.ts'
import { noSuchRun, RUN_ID } from './runs.ts'

/**
 * The run page's further reading, each on demand: `/api/runs/:id/facts` (its
 * identity, processes, logs, errors and metrics), `/lives` (a supervised
 * program's lives and progress), `/output` (the last lines of the program
 * running now) and `/history` (every run of the same job under the root,
 * side by side). Read-only.
 */
export function addFactRoutes(app: Hono, root: string, index: RootIndex): void {
  // ?dir= (relative to the root) names the folder when several hold the same run (copies).
  const runOf = (id: string, dir: string | undefined) => (RUN_ID.test(id) ? index.findNow(id, dir) : undefined)
  app.get('/api/runs/:id/facts', async (c) => {
    const run = await runOf(c.req.param('id'), c.req.query('dir'))
    if (!run) return noSuchRun(c, root)
    return c.json(await runFacts(root, run))
  })
  // A supervised program's lives with its progress over each (its throughput chart), and the last lines of the one running now.
  app.get('/api/runs/:id/lives', async (c) => {
    const run = await runOf(c.req.param('id'), c.req.query('dir'))
    if (!run) return noSuchRun(c, root)
    return c.json({ lives: await programLivesOf(root, run) })
  })
  app.get('/api/runs/:id/output', async (c) => {
    const run = await runOf(c.req.param('id'), c.req.query('dir'))
    if (!run) return noSuchRun(c, root)
    return c.json({ output: liveOutputOf(root, run) })
  })
  app.get('/api/runs/:id/history', async (c) => {
    const run = await runOf(c.req.param('id'), c.req.query('dir'))
    if (!run) return noSuchRun(c, root)
    // Copies of a run are not other runs of its job.
    const runs = index.runs().filter((r) => !r.copyOf && !r.unreadable)
    return c.json({ job: run.snapshot.job, runs: await runHistory(root, run, runs, Date.now()) })
  })
}
