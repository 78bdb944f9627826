import { ago, count, doneText, duration, etaText, gateText, rate } from '../../telemetry/progressText.ts'
import type { ProgressSnapshot, ProgressState } from '../../telemetry/snapshot.ts'
import { VERSION } from '../../version.ts'

/** Seconds between reloads of a published page. */
export const STATUS_REFRESH_SECONDS = 30

const STATES: readonly ProgressState[] = ['running', 'complete', 'failed', 'stalled', 'interrupted']

const CSS = `
:root { color-scheme: light dark; --fg: #1f2328; --bg: #ffffff; --muted: #656d76; --line: #d0d7de; --track: #eaeef2; }
@media (prefers-color-scheme: dark) { :root { --fg: #e6edf3; --bg: #0d1117; --muted: #8d96a0; --line: #30363d; --track: #21262d; } }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--fg); background: var(--bg); }
main { max-width: 46rem; margin: 2rem auto; padding: 0 1rem; }
h1 { font-size: 1.4rem; margin: 0 0 .75rem; overflow-wrap: anywhere; }
.state { display: inline-block; padding: .15rem .7rem; border-radius: 999px; color: #fff; font-weight: 700; letter-spacing: .06em; }
.why { margin-left: .5rem; color: var(--muted); }
.state-running { background: #0969da; } .state-complete { background: #1a7f37; } .state-failed { background: #cf222e; }
.state-stalled { background: #bc4c00; } .state-interrupted { background: #6e7781; } .state-unknown { background: #6e7781; }
.bar { height: .9rem; margin: 1rem 0 .25rem; background: var(--track); border-radius: .45rem; overflow: hidden; }
.fill { height: 100%; }
.percent { margin: 0 0 1rem; font-size: 1.1rem; font-weight: 600; }
table { width: 100%; border-collapse: collapse; }
th, td { text-align: left; vertical-align: top; padding: .35rem .5rem .35rem 0; border-top: 1px solid var(--line); }
th { width: 10rem; font-weight: 600; color: var(--muted); }
td { overflow-wrap: anywhere; font-variant-numeric: tabular-nums; }
.error td { color: #cf222e; white-space: pre-wrap; }
footer { margin-top: 1.25rem; color: var(--muted); font-size: .85rem; }
`

/**
 * status.html: a run's progress as one self-contained page, for a bucket or
 * any static web server. The data is rendered here, every value escaped; no
 * scripts and no external URLs (the page's own policy forbids both), and it
 * reloads itself every 30 s.
 */
export function statusHtml(p: ProgressSnapshot, now: number): string {
  const word = p.state.toUpperCase()
  const stateClass = `state-${STATES.includes(p.state) ? p.state : 'unknown'}`
  const percent = p.percent !== null && Number.isFinite(p.percent) ? Math.min(100, Math.max(0, p.percent)) : 0
  const why =
    p.state === 'stalled' && p.stalledForSeconds !== null ? `nothing finished for ${duration(p.stalledForSeconds)}` : ''
  const rows: [string, string][] = [
    ['Completed', `${doneText(p)}${p.inFlight > 0 ? `, ${count(p.inFlight)} more finished, not yet committed` : ''}`],
    ['Rate', p.itemsPerSecond === null ? 'unknown' : `${rate(p.itemsPerSecond)} items/s`],
    ['ETA', etaText(p)],
    ['Elapsed', duration(p.elapsedSeconds)],
    ['Started', p.startedAt],
    [
      'Last checkpoint',
      p.lastCheckpointAt === null
        ? 'none yet'
        : `${p.lastCheckpointAt} (${ago(p.lastCheckpointAt, now)}), ${count(p.checkpoints)} this session`,
    ],
    ['Heartbeat', `${p.heartbeatAt} (${ago(p.heartbeatAt, now)})`],
    ['Workers', `${p.workers} (pid ${p.owner.pid} on ${p.owner.host})`],
    ...(p.gate ? [['Launch gate', gateText(p.gate)] as [string, string]] : []),
    ['Run', p.runId],
    ['Updated', p.updatedAt],
  ]
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<meta http-equiv="refresh" content="${STATUS_REFRESH_SECONDS}">
<title>${esc(`${word} ${percent.toFixed(1)}% — ${p.job}`)}</title>
<style>${CSS}</style>
</head>
<body>
<main>
<h1>${esc(p.job)}</h1>
<p><span class="state ${stateClass}">${esc(word)}</span>${why ? `<span class="why">${esc(why)}</span>` : ''}</p>
<div class="bar" role="progressbar" aria-valuemin="0" aria-valuemax="100" aria-valuenow="${percent.toFixed(1)}"><div class="fill ${stateClass}" style="width: ${percent.toFixed(2)}%"></div></div>
<p class="percent">${percent.toFixed(1)}%</p>
<table>
${rows.map(([name, value]) => `<tr><th>${esc(name)}</th><td>${esc(value)}</td></tr>`).join('\n')}
${p.error ? `<tr class="error"><th>Error</th><td>${esc(p.error)}</td></tr>` : ''}
</table>
<footer>Published ${esc(new Date(now).toISOString())} by longhaul ${esc(VERSION)}. This page reloads every ${STATUS_REFRESH_SECONDS} s; if “Updated” stops moving while the state says RUNNING, the run or its publishing has stopped.</footer>
</main>
</body>
</html>
`
}

/** Text for HTML content and quoted attributes. */
export function esc(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`)
}
