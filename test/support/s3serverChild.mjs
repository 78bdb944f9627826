// A local S3-compatible server (s3rver) in a process of its own: `node s3serverChild.mjs DIR BUCKET` prints
// `{"port":N}` once it listens, and stops on SIGTERM. s3rver's file store can lose a race between reading an
// object and its deletion (an ENOENT thrown outside any request handler); in a process of its own that costs the
// one request, as a real bucket's transient error would, instead of failing the test run that hosts it.
import { createRequire } from 'node:module'

const [directory, bucket] = process.argv.slice(2)
const S3rver = createRequire(import.meta.url)('s3rver')
process.on('uncaughtException', (error) => {
  if (error?.code !== 'ENOENT') throw error
  process.stderr.write(`s3rver: ${error.message} (an object deleted while it was read)\n`)
})
const server = new S3rver({
  port: 0,
  address: '127.0.0.1',
  silent: true,
  directory,
  configureBuckets: [{ name: bucket }],
})
const { port } = await server.run()
process.stdout.write(`${JSON.stringify({ port })}\n`)
process.on('SIGTERM', () => server.close().then(() => process.exit(0)))
