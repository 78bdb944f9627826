import { UsageError } from '../errors.ts'
import { type RunStatus, statusOf } from '../run/runStatus.ts'
import type { ProgressSnapshot } from '../telemetry/snapshot.ts'
import { RUN_ID, type RunItem } from './runs.ts'

/**
 * Where a run stands, read over HTTP: a dashboard's run page
 * (`http://host:port/runs/<id>`, with `?token=` when it needs one) or a
 * published progress.json (a bucket, any web server).
 */
export async function fetchRunStatus(url: string, now: number, signal?: AbortSignal): Promise<RunStatus> {
  const parsed = new URL(url)
  const token = parsed.searchParams.get('token')
  const runPage = /^\/runs\/([^/]+)\/?$/.exec(parsed.pathname)
  let target = parsed
  if (runPage) {
    if (!RUN_ID.test(runPage[1]!))
      throw new UsageError(`${url} is not a run's page: the part after /runs/ is not a run id`)
    target = new URL(`/api/runs/${runPage[1]}`, parsed)
    // The run's folder, when several hold it (a copy): the page's address names it.
    const dir = parsed.searchParams.get('dir')
    if (dir !== null) target.searchParams.set('dir', dir)
  }
  let response: Response
  try {
    response = await fetch(target, {
      headers: token ? { authorization: `Bearer ${token}` } : {},
      signal: signal ? AbortSignal.any([signal, AbortSignal.timeout(10_000)]) : AbortSignal.timeout(10_000),
    })
  } catch (error) {
    throw new UsageError(
      `cannot reach ${parsed.origin}: ${(error as Error).cause instanceof Error ? ((error as Error).cause as Error).message : (error as Error).message}`,
    )
  }
  if (response.status === 401)
    throw new UsageError(
      `${parsed.origin} needs the dashboard's token: use the URL \`longhaul serve\` printed (…?token=…)`,
    )
  if (response.status === 410)
    throw new UsageError(
      `${((await response.json().catch(() => ({}))) as { error?: string }).error ?? 'the run is gone'}: ${shownUrl(parsed)} shows nothing any more`,
    )
  if (!response.ok)
    throw new UsageError(
      `${target.href} answered ${response.status} ${response.statusText}; give a dashboard run URL (…/runs/<id>) or the URL of a published progress.json`,
    )
  let body: unknown
  try {
    body = await response.json()
  } catch {
    throw new UsageError(
      `${target.href} is not JSON; give a dashboard run URL (…/runs/<id>) or the URL of a published progress.json`,
    )
  }
  if (runPage) {
    const item = body as RunItem
    const { snapshot, live, ownerGone, heartbeatAgeSeconds, summary, shared } = item
    return { dir: shownUrl(parsed), snapshot, live, ownerGone, heartbeatAgeSeconds, summary, ...(shared && { shared }) }
  }
  const snapshot = body as ProgressSnapshot
  if (
    typeof snapshot?.runId !== 'string' ||
    typeof snapshot.done !== 'number' ||
    typeof snapshot.heartbeatAt !== 'string'
  ) {
    throw new UsageError(`${target.href} is not a longhaul progress.json`)
  }
  return statusOf(snapshot, shownUrl(parsed), now)
}

/** The URL as it may be shown on a screen: without its token. */
function shownUrl(url: URL): string {
  const shown = new URL(url)
  shown.searchParams.delete('token')
  return shown.href
}
