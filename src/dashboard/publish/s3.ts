import { z } from 'zod'
import { type S3Sdk, s3Client } from '../../s3Client.ts'
import { progressText } from '../../telemetry/progressText.ts'
import type { ProgressSnapshot } from '../../telemetry/snapshot.ts'
import { statusHtml } from './statusHtml.ts'

/** `{ kind: 's3', bucket }` in `publish`: progress.json, PROGRESS.txt and status.html put in an S3-compatible bucket. */
export const s3TargetSchema = z
  .object({
    kind: z.literal('s3'),
    bucket: z.string().min(1),
    /**
     * The objects go under this key prefix; `{job}` and `{runId}` are replaced
     * by the run's, so one config can serve every job. @default '{job}'
     */
    prefix: z.string().default('{job}'),
    /** An S3-compatible service's URL (MinIO, R2, B2, …). @default AWS S3 */
    endpoint: z.url({ protocol: /^https?$/, error: 'an s3 endpoint must be an http:// or https:// URL' }).optional(),
    /** @default AWS_REGION from the environment, else 'us-east-1' */
    region: z.string().min(1).optional(),
    /** Address the bucket in the path (`endpoint/bucket/key`), as most S3-compatible servers need. @default false */
    forcePathStyle: z.boolean().default(false),
    /** Between changes of state, the objects are put this often, minutes. @default 5 */
    everyMinutes: z.number().positive().default(5),
  })
  .strict()

export type S3Target = z.output<typeof s3TargetSchema>

/**
 * Puts the run's three files in a bucket, one after the other. Credentials
 * come from the SDK's default chain (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY,
 * AWS_PROFILE, an instance role, …). The SDK is loaded on first use: it is an
 * optional dependency, needed only by those who publish to a bucket.
 */
export function s3Sender(target: S3Target): {
  readonly label: string
  send(snapshot: ProgressSnapshot, signal: AbortSignal, now: number): Promise<void>
  close(): void
} {
  let connected: Promise<{ sdk: S3Sdk; client: InstanceType<S3Sdk['S3Client']> }> | undefined
  const connect = () =>
    (connected ??= s3Client(`publishing to the s3 bucket '${target.bucket}'`, {
      region: target.region ?? process.env.AWS_REGION ?? 'us-east-1',
      ...(target.endpoint !== undefined && { endpoint: target.endpoint }),
      forcePathStyle: target.forcePathStyle,
      // The publisher retries on its own schedule, and never past its deadline.
      maxAttempts: 1,
    }))
  const where = target.endpoint !== undefined ? ` at ${new URL(target.endpoint).host}` : ''
  return {
    label: `s3://${target.bucket}/${target.prefix.replace(/^\/+|\/+$/g, '')}${where}`,
    async send(snapshot, signal, now) {
      const { sdk, client } = await connect()
      const objects: [name: string, body: string, type: string][] = [
        ['progress.json', `${JSON.stringify(snapshot, null, 2)}\n`, 'application/json; charset=utf-8'],
        ['PROGRESS.txt', progressText(snapshot, now), 'text/plain; charset=utf-8'],
        ['status.html', statusHtml(snapshot, now), 'text/html; charset=utf-8'],
      ]
      for (const [name, body, type] of objects) {
        const command = new sdk.PutObjectCommand({
          Bucket: target.bucket,
          Key: objectKey(target.prefix, snapshot, name),
          Body: body,
          ContentType: type,
          // Readers always want the latest: no browser or CDN may serve an old copy.
          CacheControl: 'no-cache, max-age=0',
        })
        await client.send(command, { abortSignal: signal })
      }
    },
    close() {
      void connected?.then(
        ({ client }) => client.destroy(),
        () => undefined,
      )
    },
  }
}

/** `<prefix>/<name>`, with `{job}` and `{runId}` in the prefix filled in and no stray slashes. */
export function objectKey(prefix: string, snapshot: Pick<ProgressSnapshot, 'job' | 'runId'>, name: string): string {
  const filled = prefix
    .replaceAll('{job}', snapshot.job)
    .replaceAll('{runId}', snapshot.runId)
    .replace(/^\/+|\/+$/g, '')
  return filled ? `${filled}/${name}` : name
}
