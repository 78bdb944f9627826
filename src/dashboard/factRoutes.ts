import type { Hono } from 'hono'
import { runFacts } from './runFacts.ts'
import { runHistory } from './runHistory.ts'
import { findRun, listRuns } from './runs.ts'

/**
 * The run page's further reading, each on demand: `/api/runs/:id/facts` (its
 * identity, processes, logs, errors and metrics) and `/api/runs/:id/history`
 * (every run of the same job under the root, side by side). Read-only.
 */
export function addFactRoutes(app: Hono, root: string): void {
  app.get('/api/runs/:id/facts', async (c) => {
    const run = await findRun(root, c.req.param('id'), Date.now())
    if (!run) return c.json({ error: 'no such run' }, 404)
    return c.json(await runFacts(root, run))
  })
  app.get('/api/runs/:id/history', async (c) => {
    const now = Date.now()
    const runs = await listRuns(root, now)
    const run = runs.find((r) => r.id === c.req.param('id'))
    if (!run) return c.json({ error: 'no such run' }, 404)
    return c.json({ job: run.snapshot.job, runs: await runHistory(root, run, runs, now) })
  })
}
