/**
 * Shards in an S3-compatible bucket (`s3://bucket/prefix`): threads write a
 * range's files to the local data folder as always (under staged names), the
 * process uploads them under `prefix/.longhaul/staged/`, and only then does
 * the journal record the range, so a recorded object is always a whole one
 * (S3 never shows half an upload). Once it is recorded, each object is copied
 * to its final key under `prefix/data/` and the staged one removed: nothing
 * under data/ was ever uploaded by a process whose commit was refused. The
 * local copies go once the range is recorded or dropped.
 *
 * The endpoint of a service other than AWS comes from AWS_ENDPOINT_URL_S3 or
 * AWS_ENDPOINT_URL (and is addressed path-style, as MinIO, R2 or Ceph expect);
 * credentials from the SDK's usual chain (AWS_ACCESS_KEY_ID, AWS_PROFILE, an
 * instance role); the region from AWS_REGION or AWS_DEFAULT_REGION (default
 * us-east-1), and a bucket elsewhere is found by following its redirect.
 */
import { readFileSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { BucketError, UsageError } from '../errors.ts'
import { s3Client } from '../s3Client.ts'
import { INDEX_FILE } from './shardNames.ts'
import type { ShardPlace, StagedFile } from './shardPlace.ts'

export interface BucketUrl {
  readonly bucket: string
  /** The key prefix, without slashes at either end ('' for the bucket's root). */
  readonly prefix: string
}

/** True for an --out that names a bucket rather than a folder. */
export function isBucketUrl(text: string): boolean {
  return text.startsWith('s3://')
}

/** Reads `s3://bucket/prefix`; anything else is a usage error saying what the form is. */
export function parseBucketUrl(text: string): BucketUrl {
  const match = /^s3:\/\/([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])(?:\/(.*))?$/.exec(text)
  if (!match)
    throw new UsageError(
      `'${text}' is not a bucket URL: write s3://BUCKET/PREFIX (a bucket name of 3–63 lowercase letters, digits, dots and hyphens)`,
    )
  return { bucket: match[1]!, prefix: (match[2] ?? '').replace(/^\/+|\/+$/g, '') }
}

export function bucketLabel(url: BucketUrl): string {
  return `s3://${url.bucket}/${url.prefix ? `${url.prefix}/` : ''}`
}

/**
 * The bucket at `url` as the place of a run's shards; `stagingDir` is the
 * local data folder threads write to. Checks once that the bucket answers,
 * so a wrong name or missing credentials stop the run before any work.
 */
export async function openBucketPlace(text: string, stagingDir: string): Promise<ShardPlace> {
  const url = parseBucketUrl(text)
  const where = bucketLabel(url)
  const endpoint = process.env.AWS_ENDPOINT_URL_S3 ?? process.env.AWS_ENDPOINT_URL
  const { sdk, client } = await s3Client(`keeping shards in ${where}`, {
    region: process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? 'us-east-1',
    // A bucket in another region than the one configured answers with a redirect: follow it.
    followRegionRedirects: true,
    ...(endpoint && { endpoint, forcePathStyle: true }),
    // A busy bucket answers "slow down" or a 500 now and then; the SDK backs off and tries again.
    maxAttempts: 6,
  })
  const dataPrefix = `${url.prefix ? `${url.prefix}/` : ''}data/`
  const key = (name: string): string => dataPrefix + name
  const failed = (what: string, error: unknown): BucketError => {
    const name = (error as { name?: string }).name ?? ''
    const hint =
      name === 'NoSuchBucket' || name === 'NotFound'
        ? `there is no bucket '${url.bucket}'${endpoint ? ` at ${endpoint}` : ''}: create it, or check the URL and AWS_ENDPOINT_URL`
        : /AccessDenied|InvalidAccessKeyId|SignatureDoesNotMatch|Forbidden/.test(name)
          ? 'the bucket refused these credentials: check AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY or AWS_PROFILE'
          : `check that ${endpoint ?? 'S3'} answers and the network reaches it`
    // A HEAD has no body to say why: its 404 comes as NotFound / UnknownError.
    const said = name === 'NotFound' ? 'NotFound' : `${name || 'error'}: ${(error as Error).message}`
    return new BucketError(
      `${what} ${where} failed (${said}); ${hint}. Committed work is safe: run the same command again once the bucket answers.`,
      error,
    )
  }
  const attempt = async <T>(what: string, request: () => Promise<T>): Promise<T> => {
    try {
      return await request()
    } catch (error) {
      throw failed(what, error)
    }
  }

  await attempt('reaching', () => client.send(new sdk.HeadBucketCommand({ Bucket: url.bucket }))).catch(
    (error: unknown) => {
      client.destroy()
      throw error
    },
  )

  const put = (name: string, body: Buffer): Promise<unknown> =>
    attempt(`uploading ${name} to`, () =>
      client.send(
        new sdk.PutObjectCommand({ Bucket: url.bucket, Key: key(name), Body: body, ContentLength: body.length }),
      ),
    )
  // Staged objects wait apart from data/, so that nobody listing data/ ever takes one for output.
  const stagedPrefix = `${url.prefix ? `${url.prefix}/` : ''}.longhaul/staged/`
  const listKeys = async (prefix: string): Promise<Map<string, number>> => {
    const sizes = new Map<string, number>()
    let token: string | undefined
    do {
      const page = await attempt('listing', () =>
        client.send(
          new sdk.ListObjectsV2Command({
            Bucket: url.bucket,
            Prefix: prefix,
            ...(token && { ContinuationToken: token }),
          }),
        ),
      )
      for (const object of page.Contents ?? [])
        if (object.Key) sizes.set(object.Key.slice(prefix.length), object.Size ?? 0)
      token = page.NextContinuationToken
    } while (token)
    return sizes
  }
  const readKey = async (objectKey: string, name: string): Promise<Buffer | undefined> => {
    try {
      const object = await client.send(new sdk.GetObjectCommand({ Bucket: url.bucket, Key: objectKey }))
      return Buffer.from(await object.Body!.transformToByteArray())
    } catch (error) {
      if ((error as { name?: string }).name === 'NoSuchKey') return undefined
      throw failed(`reading ${name} from`, error)
    }
  }
  const removeKey = (objectKey: string, name: string): Promise<unknown> =>
    attempt(`removing ${name} from`, () =>
      client.send(new sdk.DeleteObjectCommand({ Bucket: url.bucket, Key: objectKey })),
    )
  /** Copies a staged object to its final key, then removes it; one already gone was finished by another process. */
  const finish = async (staged: string, finalName: string): Promise<void> => {
    try {
      await client.send(
        new sdk.CopyObjectCommand({
          Bucket: url.bucket,
          Key: key(finalName),
          CopySource: encodeURI(`${url.bucket}/${stagedPrefix}${staged}`),
        }),
      )
    } catch (error) {
      const name = (error as { name?: string }).name
      if (name !== 'NoSuchKey' && name !== 'NotFound') throw failed(`finishing ${finalName} in`, error)
      return
    }
    await removeKey(stagedPrefix + staged, staged)
  }

  return {
    kind: 'bucket',
    where,
    async publish(files: readonly StagedFile[]) {
      for (const file of files) {
        const body = readFileSync(join(stagingDir, file.staged))
        await attempt(`uploading ${file.staged} to`, () =>
          client.send(
            new sdk.PutObjectCommand({
              Bucket: url.bucket,
              Key: stagedPrefix + file.staged,
              Body: body,
              ContentLength: body.length,
            }),
          ),
        )
      }
    },
    async finalize(files: readonly StagedFile[]) {
      for (const file of files) {
        await finish(file.staged, file.name)
        rmSync(join(stagingDir, file.staged), { force: true })
      }
    },
    async discard(files: readonly StagedFile[]) {
      for (const file of files) rmSync(join(stagingDir, file.staged), { force: true })
      // Best effort: what stays is removed once the run is complete.
      for (const file of files) await removeKey(stagedPrefix + file.staged, file.staged).catch(() => undefined)
    },
    staging: {
      list: () => listKeys(stagedPrefix),
      read: (staged) => readKey(stagedPrefix + staged, staged),
      finish,
      async remove(names) {
        for (const name of names) await removeKey(stagedPrefix + name, name)
      },
    },
    list: () => listKeys(dataPrefix),
    read: (name: string) => readKey(key(name), name),
    async remove(names: readonly string[]) {
      for (const name of names) await removeKey(key(name), name)
    },
    async writeIndex(body: Buffer) {
      // One PUT replaces the object whole: readers see the old index or the new one.
      await put(INDEX_FILE, body)
    },
    close: () => client.destroy(),
  }
}
