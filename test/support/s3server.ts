import { type ChildProcess, spawn } from 'node:child_process'
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'
import { tempDir } from './cli.ts'

/** A local S3-compatible server with one bucket, for tests; `close()` stops it (its folder goes with the test's). */
export interface S3Server {
  readonly endpoint: string
  /** The credentials s3rver accepts, as the AWS SDK reads them from the environment. */
  readonly env: Readonly<Record<string, string>>
  close(): Promise<void>
}

const CHILD = fileURLToPath(new URL('./s3serverChild.mjs', import.meta.url))

export async function startS3Server(bucket: string): Promise<S3Server> {
  const child: ChildProcess = spawn(process.execPath, [CHILD, tempDir('longhaul-s3rver-'), bucket], {
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  const [line] = (await Promise.race([
    once(child.stdout!, 'data'),
    once(child, 'exit').then(([code]) => {
      throw new Error(`the S3 test server exited (${code}) before it listened`)
    }),
  ])) as [Buffer]
  const { port } = JSON.parse(line.toString()) as { port: number }
  return {
    endpoint: `http://127.0.0.1:${port}`,
    env: { AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER', AWS_EC2_METADATA_DISABLED: 'true' },
    async close() {
      if (child.exitCode !== null || child.signalCode !== null) return
      const exited = once(child, 'exit')
      child.kill('SIGTERM')
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000)
      await exited
      clearTimeout(timer)
    },
  }
}
