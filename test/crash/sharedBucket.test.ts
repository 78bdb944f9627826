/**
 * A run across processes whose shards go to an S3-compatible bucket
 * (`run --store URL --out s3://bucket/prefix`, `worker` with no shared
 * folder): a real PostgreSQL journal, a real S3-compatible server (s3rver),
 * real child processes and SIGKILLs. Upload, then record (atomic-commit): a
 * process killed between the two leaves an object the journal never records,
 * removed once the run is complete; a recorded object lost from the bucket is
 * made again; the digest is the single-process SQLite run's (determinism).
 */
import { existsSync, readdirSync, rmSync } from 'node:fs'
import { hostname, tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  DeleteObjectCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3'
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest'
import {
  type CliResult,
  expectVerifiedComplete,
  fixture,
  pace,
  referenceDigest,
  runCliHere,
  startCli,
  tempDir,
  waitFor,
  withEnv,
} from '../support/cli.ts'
import { sql, usePostgres } from '../support/postgres.ts'
import { type S3Server, startS3Server } from '../support/s3server.ts'

const server = usePostgres()
const TOTAL = 1_500
const JOB = fixture('squares.ts')
const TTL = ['--lease-ttl', '2']
const root = tempDir()
let s3: S3Server
let env: Record<string, string>
let client: S3Client
let expected: string

beforeAll(async () => {
  s3 = await startS3Server('datasets')
  const endpoint = s3.endpoint
  env = { AWS_ENDPOINT_URL_S3: endpoint, ...s3.env }
  client = new S3Client({
    endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
  })
  expected = await referenceDigest(JOB, TOTAL, join(root, 'reference'))
}, 120_000)

afterAll(async () => {
  client?.destroy()
  await s3?.close()
})

/** The folders where this host's workers stage their shards (each makes one in the temp folder, and removes it). */
function scratchLeft(): string[] {
  return readdirSync(tmpdir()).filter((name) => name.startsWith(`longhaul-worker-${hostname()}-`))
}

/** Removes the staging folder a worker `pid` of this host left (one killed leaves it for the next worker to remove). */
function removeScratchOf(pid: number | undefined): void {
  for (const name of scratchLeft().filter((n) => n.startsWith(`longhaul-worker-${hostname()}-${pid}-`)))
    rmSync(join(tmpdir(), name), { recursive: true, force: true })
}

/** The objects waiting under the run's staged prefix. */
async function staged(prefix: string): Promise<string[]> {
  const listed = await client.send(
    new ListObjectsV2Command({ Bucket: 'datasets', Prefix: `${prefix}/.longhaul/staged/` }),
  )
  return (listed.Contents ?? []).map((object) => object.Key!.slice(`${prefix}/.longhaul/staged/`.length)).sort()
}

async function objects(prefix: string): Promise<string[]> {
  const listed = await client.send(new ListObjectsV2Command({ Bucket: 'datasets', Prefix: `${prefix}/data/` }))
  return (listed.Contents ?? []).map((object) => object.Key!.slice(`${prefix}/data/`.length)).sort()
}

/** The owner's command line: its shards in the bucket under `prefix`, its progress files in `local`. */
const ownerArgs = (url: string, prefix: string, local: string): string[] => [
  'run',
  JOB,
  '--out',
  `s3://datasets/${prefix}`,
  '--local',
  local,
  '--total',
  String(TOTAL),
  '--workers',
  '1',
  '--store',
  url,
  ...TTL,
  '--json',
]

const runHere = (args: readonly string[]): Promise<CliResult> => runCliHere(args, env)

function owner(
  url: string,
  prefix: string,
  local: string,
  extraEnv: Record<string, string> = {},
): ReturnType<typeof startCli> & { runId: Promise<string> } {
  const started = startCli(ownerArgs(url, prefix, local), { ...env, ...extraEnv })
  let stderr = ''
  started.child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
  const runId = waitFor('the owner to record the run', () => {
    if (started.child.exitCode !== null) throw new Error(`the owner exited early: ${stderr}`)
    return /--run (\S+)/.exec(stderr)?.[1]
  })
  return { ...started, runId }
}

function worker(url: string, runId: string, extraEnv: Record<string, string> = {}): ReturnType<typeof startCli> {
  // No --out: the run's bucket takes the shards; a temporary folder stages them.
  return startCli(['worker', JOB, '--store', url, '--run', runId, '--workers', '1', ...TTL, '--json'], {
    ...env,
    ...extraEnv,
  })
}

function expectComplete(result: CliResult): { committedThisSession: number } {
  expect(result.code, result.stderr).toBe(0)
  const summary = JSON.parse(result.stdout) as { state: string; digest: string; committedThisSession: number }
  expect(summary).toMatchObject({ state: 'complete', digest: expected })
  return summary
}

async function expectVerified(local: string): Promise<void> {
  // verify reads the journal from PostgreSQL and every shard back from the bucket (in this process).
  await withEnv(env, () => expectVerifiedComplete(local, TOTAL, expected))
}

describe('a run across processes with its shards in an S3-compatible bucket', () => {
  it('atomic-commit, fenced-output, no-duplicates, determinism: an object uploaded by a process killed before recording it waits apart from data/ and is gone once the run completes; one killed after recording it is finished; the digest is the single-process one', async () => {
    const url = await server().createDatabase()
    const local = join(root, 'owner-local')
    // Items take 10 ms until the killed workers have done their part, so that the run is not over before they join.
    const paced = pace()
    const run = owner(url, 'gen1', local, paced.env)
    const runId = await run.runId
    // This worker dies at its first commit: its shard is uploaded, staged, and the journal does not record it.
    const dying = worker(url, runId, { ...paced.env, LONGHAUL_CRASH_AT: 'commit:1' })
    let recordedThenDied: ReturnType<typeof worker> | undefined
    // The staging folders of the workers killed here, should the test fail before the next worker removes them.
    onTestFinished(() => {
      for (const killed of [dying, recordedThenDied]) removeScratchOf(killed?.child.pid)
    })
    const died = await dying.done
    expect(died.signal, died.stderr).toBe('SIGKILL')
    expect(scratchLeft()).toHaveLength(1)
    // Nothing of it under data/: a reader listing the bucket's data/ never sees an unrecorded shard. (Listed first, then
    // the journal read: the owner goes on committing meanwhile, and records a range before copying it into data/.)
    const listed = await objects('gen1')
    const recorded = new Set(
      (
        await sql<{ files: { name: string }[] }>(url, 'SELECT files FROM longhaul.ranges WHERE run_id = $1', [runId])
      ).flatMap((r) => r.files.map((f) => f.name)),
    )
    expect(listed.filter((name) => name !== 'index.json' && !recorded.has(name))).toEqual([])
    expect((await staged('gen1')).length).toBeGreaterThan(0)
    // This one dies once the journal has recorded its first range, before the copy to its final key.
    recordedThenDied = worker(url, runId, { ...paced.env, LONGHAUL_CRASH_AT: 'finalize:1' })
    expect((await recordedThenDied.done).signal).toBe('SIGKILL')
    // The first one's staging folder is gone, removed by this one as it started; this one's is left, as it died.
    expect(scratchLeft()).toHaveLength(1)
    // A look-alike object nobody recorded is not longhaul's to delete (never-delete-foreign-files).
    const foreign = '000000000003-000000099999.jsonl'
    await client.send(new PutObjectCommand({ Bucket: 'datasets', Key: `gen1/data/${foreign}`, Body: '{}\n' }))
    const helper = worker(url, runId, paced.env)
    // The owner's local folder is not a worker's: its staged shards would be taken for debris.
    const intruder = await runHere(['worker', JOB, '--store', url, '--run', runId, '--out', local, '--workers', '1'])
    expect(intruder.code).toBe(2)
    expect(intruder.stderr).toMatch(/is the local folder of the run's owner/)
    paced.release()
    const results = [await run.done, await helper.done]
    const summaries = results.map(expectComplete)
    // The range recorded by the process that died before its copy counts once, made by nobody else.
    expect(summaries.reduce((sum, s) => sum + s.committedThisSession, 0)).toBeLessThan(TOTAL)
    // A worker without a folder of the run works on the bucket, and says so.
    expect(JSON.parse(results[1]!.stdout).dir).toBe('s3://datasets/gen1/')
    // The bucket's data/ holds exactly the recorded shards, index.json and the foreign object, left and reported; nothing
    // stays staged, and nothing waits in the owner's local folder.
    const recordedAtEnd = (
      await sql<{ files: { name: string }[] }>(url, 'SELECT files FROM longhaul.ranges WHERE run_id = $1', [runId])
    ).flatMap((r) => r.files.map((f) => f.name))
    expect(await objects('gen1')).toEqual([...recordedAtEnd, 'index.json', foreign].sort())
    expect(await staged('gen1')).toEqual([])
    expect(results.map((r) => r.stderr).join('\n')).toMatch(
      /left 1 file\(s\) in s3:\/\/datasets\/gen1\/data that this run did not write: 000000000003-000000099999\.jsonl/,
    )
    const index = JSON.parse(
      await (
        await client.send(new GetObjectCommand({ Bucket: 'datasets', Key: 'gen1/data/index.json' }))
      ).Body!.transformToString(),
    )
    expect(index).toMatchObject({ items: TOTAL })
    expect(readdirSync(join(local, 'data'))).toEqual([])
    // A killed worker's staging folder does not outlive it: the next worker on this host removed it (no-debris).
    expect(scratchLeft()).toEqual([])
    expect(existsSync(join(local, 'progress.json'))).toBe(true)
    await client.send(new DeleteObjectCommand({ Bucket: 'datasets', Key: `gen1/data/${foreign}` }))
    await expectVerified(local)
  }, 240_000) // five processes and a bucket server: on a busy 2-core machine this can take more than the default 2 min

  it('no-loss: a recorded shard lost from the bucket while the owner was down is made again when it resumes, and verify agrees', async () => {
    const url = await server().createDatabase()
    const local = join(root, 'lost-object')
    // 8 ms an item: 12 s of work, so that the owner is killed with most of the run still to do.
    const first = owner(url, 'gen2', local, { ITEM_MS: '8' })
    const runId = await first.runId
    // A recorded range whose object reached its final key and whose staged copy is gone (one killed before its copy,
    // or before its staged object was removed, is finished from the staged object instead, with nothing to make again).
    const finalized = async (): Promise<{ start: number; files: { name: string }[] } | undefined> => {
      const stagedNow = await staged('gen2')
      const inData = new Set((await objects('gen2')).filter((name) => !stagedNow.some((s) => s.endsWith(`-${name}`))))
      return (
        await sql<{ start: number; files: { name: string }[] }>(
          url,
          'SELECT start::int, files FROM longhaul.ranges WHERE run_id = $1 ORDER BY start',
          [runId],
        )
      ).find((range) => inData.has(range.files[0]!.name))
    }
    // Killed once a range is wholly done (recorded, at its final key, its staged copy removed): a range only recorded
    // when the owner dies is finished from its staged copy on resume, which is not what this test is about.
    await waitFor('a committed range at its final key', finalized)
    first.child.kill('SIGKILL')
    expect((await first.done).signal).toBe('SIGKILL')
    const lost = await finalized()
    expect(lost).toBeDefined()
    await client.send(new DeleteObjectCommand({ Bucket: 'datasets', Key: `gen2/data/${lost!.files[0]!.name}` }))
    // Resumed at full speed, in this process: an item's bytes do not depend on how long it takes.
    const result = await runHere(ownerArgs(url, 'gen2', local))
    expectComplete(result)
    expect(JSON.parse(result.stdout)).toMatchObject({ runId, resumed: true })
    const recomputed = await sql<{ detail: { start: number } }>(
      url,
      `SELECT detail FROM longhaul.events WHERE run_id = $1 AND type = 'recomputing'`,
      [runId],
    )
    expect(recomputed.map((e) => e.detail.start)).toContain(lost!.start)
    await expectVerified(local)
    // From a machine with no folder of the run: the journal names the bucket.
    const remote = await runHere(['verify', '--store', url, '--run', runId, '--json'])
    expect(remote.code, remote.stderr).toBe(0)
    expect(JSON.parse(remote.stdout)).toMatchObject({
      dir: 's3://datasets/gen2/',
      complete: true,
      items: TOTAL,
      stray: [],
      digest: expected,
    })
  })

  describe('refusals', () => {
    it('a bucket that does not exist stops the run before anything is recorded (exit 1), naming the bucket', async () => {
      const url = await server().createDatabase()
      const result = await runHere([
        'run',
        JOB,
        '--out',
        's3://no-such-bucket/x',
        '--local',
        join(root, 'nobucket'),
        '--total',
        '10',
        '--store',
        url,
      ])
      expect(result.code, result.stderr).toBe(1)
      expect(result.stderr).toMatch(/s3:\/\/no-such-bucket\/x\/ failed.*there is no bucket 'no-such-bucket'.*create it/)
      expect(await sql(url, `SELECT 1 FROM longhaul.runs`).catch(() => [])).toEqual([])
    })

    it('--out s3://… without --store is refused (exit 2): a bucket is for runs across machines', async () => {
      const result = await runCliHere(['run', JOB, '--out', 's3://datasets/solo', '--total', '10'])
      expect(result.code).toBe(2)
      expect(result.stderr).toMatch(/give --store postgres:\/\/… too/)
    })

    it('a worker without --out joining a run whose shards are in a shared folder is refused (exit 2), saying to give the folder', async () => {
      const url = await server().createDatabase()
      const done = await runCliHere([
        'run',
        JOB,
        '--out',
        join(root, 'folder-run'),
        '--total',
        '10',
        '--workers',
        '1',
        '--store',
        url,
        '--json',
      ])
      expect(done.code, done.stderr).toBe(0)
      const result = await runCliHere(['worker', JOB, '--store', url, '--run', JSON.parse(done.stdout).runId as string])
      expect(result.code).toBe(2)
      expect(result.stderr).toMatch(/keeps its shards in a folder every machine shares: give it with --out/)
    })
  })
})
