/**
 * The S3 SDK (`@aws-sdk/client-s3`), an optional dependency needed only by
 * those who keep shards in a bucket or publish progress to one, and the one
 * way longhaul configures its client.
 */
import type { S3Client, S3ClientConfig } from '@aws-sdk/client-s3'
import { UsageError } from './errors.ts'

export type S3Sdk = typeof import('@aws-sdk/client-s3')

const SDK_PACKAGE = '@aws-sdk/client-s3'

/**
 * Loads the SDK (a UsageError naming the package and how to install it when
 * it is not there, `purpose` saying what needed it) and makes a client.
 * Checksums are used only where S3 requires them: several S3-compatible
 * services reject the SDK's default ones.
 */
export async function s3Client(
  purpose: string,
  config: Pick<S3ClientConfig, 'region' | 'endpoint' | 'forcePathStyle' | 'maxAttempts' | 'followRegionRedirects'>,
): Promise<{ sdk: S3Sdk; client: S3Client }> {
  const sdk = await importOptional<S3Sdk>(SDK_PACKAGE, purpose)
  // The SDK warns, once per process and over several lines, that it will want a newer Node; that would land in the middle of the run's display.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true'
  const client = new sdk.S3Client({
    ...config,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  })
  return { sdk, client }
}

/**
 * Imports an optional dependency; when it is not installed, a UsageError that
 * names the package and how to install it.
 */
export async function importOptional<T>(name: string, purpose: string): Promise<T> {
  try {
    return (await import(name)) as T
  } catch (error) {
    const code = (error as { code?: unknown }).code
    const missing =
      code === 'ERR_MODULE_NOT_FOUND' ||
      code === 'MODULE_NOT_FOUND' ||
      /Cannot find (package|module)|Failed to (load|resolve)/i.test((error as Error).message)
    if (missing && (error as Error).message.includes(name)) {
      throw new UsageError(
        `${purpose} needs the package ${name}, which is not installed. Install it beside longhaul: npm install ${name}`,
        'LONGHAUL_BAD_USAGE',
        { cause: error },
      )
    }
    throw error
  }
}
