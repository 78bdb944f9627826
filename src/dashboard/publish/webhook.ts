import { z } from 'zod'
import { doneText, duration, etaText, rate } from '../../telemetry/progressText.ts'
import type { ProgressSnapshot } from '../../telemetry/snapshot.ts'
import { VERSION } from '../../version.ts'

/** `{ kind: 'webhook', url }` in `publish`: the progress POSTed to a URL. */
export const webhookTargetSchema = z
  .object({
    kind: z.literal('webhook'),
    /** Where the progress is POSTed: an http:// or https:// URL. */
    url: z.url({ protocol: /^https?$/, error: 'a webhook url must be an http:// or https:// URL' }),
    /**
     * 'json' posts progress.json itself; 'slack' posts `{ "text": "<one line>" }`,
     * which Slack's incoming webhooks (and Mattermost's) take as they are.
     * @default 'json'
     */
    format: z.enum(['json', 'slack']).default('json'),
    /** Extra request headers, e.g. `{ authorization: \`Bearer ${process.env.HOOK_TOKEN}\` }`. @default none */
    headers: z.record(z.string(), z.string()).optional(),
    /** Between changes of state, the progress is posted this often, minutes. @default 5 */
    everyMinutes: z.number().positive().default(5),
  })
  .strict()

export type WebhookTarget = z.output<typeof webhookTargetSchema>

/**
 * Posts to a webhook. The label names the host only: a webhook's path and
 * query are often its secret (Slack's are).
 */
export function webhookSender(target: WebhookTarget): {
  readonly label: string
  send(snapshot: ProgressSnapshot, signal: AbortSignal): Promise<void>
} {
  const url = new URL(target.url)
  return {
    label: `webhook ${url.host}`,
    async send(snapshot, signal) {
      const body = target.format === 'slack' ? { text: slackLine(snapshot) } : snapshot
      const response = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'user-agent': `longhaul/${VERSION}`, ...target.headers },
        body: JSON.stringify(body),
        signal,
      })
      // Read the answer to the end either way, so the connection can be reused.
      const answer = (await response.text()).trim()
      if (!response.ok)
        throw new Error(`HTTP ${response.status} ${response.statusText}${answer ? `: ${answer.slice(0, 200)}` : ''}`)
    },
  }
}

/** One line for a chat channel: job, STATE, done/total, percent, rate, ETA (and why, when stalled or failed). */
export function slackLine(p: ProgressSnapshot): string {
  const live = p.state === 'running' || p.state === 'stalled'
  const parts = [
    `${p.job} ${p.state.toUpperCase()} ${doneText(p, '/')}`,
    p.itemsPerSecond === null ? 'rate unknown' : `${rate(p.itemsPerSecond)} items/s`,
    `ETA ${live && p.etaSeconds === null ? 'unknown' : etaText(p)}`,
  ]
  if (p.state === 'stalled' && p.stalledForSeconds !== null)
    parts.push(`nothing finished for ${duration(p.stalledForSeconds)}`)
  if (p.error) parts.push(`error: ${oneLine(p.error, 300)}`)
  return slackEscape(parts.join(' · '))
}

function oneLine(text: string, max: number): string {
  const flat = text.replace(/\s+/g, ' ').trim()
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat
}

/** Slack reads &, < and > as markup; these three are all it asks to escape. */
function slackEscape(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')
}
