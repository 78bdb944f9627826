/**
 * A throwaway PostgreSQL server for tests: a fresh cluster in a temporary
 * folder, listening on 127.0.0.1 and a free port, removed at the end. One
 * server per test file; a fresh database per test is cheap (createDatabase,
 * ~35 ms). The cluster is a copy of one made by initdb once per run of the
 * suite (see templateCluster): a copy takes a tenth of initdb's CPU.
 *
 * initdb and pg_ctl refuse to run as root, so under root they run as the
 * `postgres` user (runuser), which owns the folder. Without PostgreSQL
 * installed the tests fail, saying how to install it; they never skip.
 */
import { execFile, execFileSync } from 'node:child_process'
import {
  chownSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { delimiter, join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { promisify } from 'node:util'
import pg from 'pg'
import { afterAll, beforeAll } from 'vitest'

const run = promisify(execFile)

export interface TestPostgres {
  /** The `postgres` database of the server, as superuser `postgres`. */
  readonly url: string
  readonly port: number
  /** A URL to the same server and user with another database name. */
  urlFor(database: string): string
  /** A new, empty database; returns its URL. */
  createDatabase(): Promise<string>
  /**
   * Stops the server at once (connections die, as on a crash) and starts it again on the same port once `whileDown`
   * has settled (nothing listens meanwhile); the data stays.
   */
  restart(whileDown?: () => Promise<unknown>): Promise<void>
  /** Stops the server and removes its folder. */
  stop(): Promise<void>
}

/** Starts one server before this file's tests and removes it after them; call the returned function inside a test. */
export function usePostgres(): () => TestPostgres {
  let server: TestPostgres | undefined
  beforeAll(async () => {
    server = await startPostgres()
  })
  afterAll(async () => {
    await server?.stop()
  })
  return () => {
    if (!server) throw new Error('the test PostgreSQL server did not start (see the error of beforeAll)')
    return server
  }
}

export async function startPostgres(): Promise<TestPostgres> {
  const bin = findBinaries()
  const asRoot = process.getuid?.() === 0
  if (asRoot) {
    try {
      execFileSync('id', ['-u', 'postgres'], { stdio: 'ignore' })
    } catch {
      throw new Error(
        "running as root, and there is no 'postgres' user to run initdb as (initdb refuses root). Debian's postgresql package creates it: .ci/run installs it.",
      )
    }
  }
  // Runs a PostgreSQL program as the user that owns the cluster.
  const pgRun = (program: string, args: string[]) =>
    asRoot ? run('runuser', ['-u', 'postgres', '--', join(bin, program), ...args]) : run(join(bin, program), args)

  const root = mkdtempSync(join(tmpdir(), 'longhaul-pg-'))
  const data = join(root, 'data')
  const sockets = join(root, 'sockets')
  const log = join(root, 'server.log')
  mkdirSync(sockets)
  const owner = asRoot ? postgresUser() : undefined
  if (owner) for (const path of [root, sockets]) chownSync(path, owner.uid, owner.gid)
  const port = await freePort()
  let running = false

  const start = async (): Promise<void> => {
    // fsync off: a test server need not survive a power cut, and it makes each commit cheap.
    const options = `-p ${port} -k ${sockets} -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off`
    try {
      await pgRun('pg_ctl', ['-D', data, '-l', log, '-o', options, '-w', '-t', '30', 'start'])
    } catch (error) {
      const tail = existsSync(log) ? readFileSync(log, 'utf8').split('\n').slice(-15).join('\n') : ''
      throw new Error(`the test PostgreSQL server did not start on port ${port}: ${(error as Error).message}\n${tail}`)
    }
    running = true
  }
  const halt = async (): Promise<void> => {
    if (!running) return
    running = false
    await pgRun('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop'])
  }
  // If the test process ends without afterAll (a crash, Ctrl-C), stop the server anyway.
  const onExit = (): void => {
    if (!running) return
    try {
      const args = ['-D', data, '-m', 'immediate', 'stop']
      if (asRoot) execFileSync('runuser', ['-u', 'postgres', '--', join(bin, 'pg_ctl'), ...args], { stdio: 'ignore' })
      else execFileSync(join(bin, 'pg_ctl'), args, { stdio: 'ignore' })
    } catch {
      // Nothing more can be done while the process exits.
    }
    rmSync(root, { recursive: true, force: true })
  }
  process.once('exit', onExit)

  try {
    // cp -a keeps the files' owner (the postgres user, under root) and the data folder's mode (0700).
    await run('cp', ['-a', await templateCluster(pgRun, owner), data])
    await start()
  } catch (error) {
    onExit()
    process.off('exit', onExit)
    throw error
  }

  const urlFor = (database: string): string => `postgres://postgres@127.0.0.1:${port}/${database}`
  let databases = 0
  return {
    url: urlFor('postgres'),
    port,
    urlFor,
    async createDatabase() {
      const name = `test_${++databases}`
      const admin = new pg.Client({ connectionString: urlFor('postgres') })
      await admin.connect()
      try {
        await admin.query(`CREATE DATABASE ${name}`)
      } finally {
        await admin.end()
      }
      return urlFor(name)
    },
    async restart(whileDown) {
      await halt()
      try {
        await whileDown?.()
      } finally {
        await start()
      }
    },
    async stop() {
      try {
        await halt()
      } finally {
        process.off('exit', onExit)
        rmSync(root, { recursive: true, force: true })
      }
    },
  }
}

/** The uid and gid of the `postgres` user, which owns the clusters when the tests run as root. */
function postgresUser(): { uid: number; gid: number } {
  const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }))
  const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }))
  return { uid, gid }
}

/** The suite's template cluster's folder in the temp folder (test/support/tempGuard.ts knows it by this name). */
const TEMPLATE = 'longhaul-pg-template'

/**
 * The data folder of a cluster made by initdb once per run of the suite, which each test file's server copies: the
 * first file to need it makes it (the others, in other workers, wait for it), in the suite's temp folder, which is
 * removed when the suite ends. Made in a folder of its own, marked ready only once initdb has succeeded; if its maker
 * fails, the next file to ask tries again.
 */
async function templateCluster(
  pgRun: (program: string, args: string[]) => Promise<unknown>,
  owner: { uid: number; gid: number } | undefined,
): Promise<string> {
  const folder = join(tmpdir(), TEMPLATE)
  const data = join(folder, 'data')
  const ready = join(folder, 'ready')
  const deadline = Date.now() + 120_000
  for (;;) {
    if (existsSync(ready)) return data
    try {
      mkdirSync(folder)
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error
      // Another file is making it.
      if (Date.now() > deadline)
        throw new Error(`the template PostgreSQL cluster in ${folder} was not made in 2 minutes`)
      await sleep(100)
      continue
    }
    try {
      if (owner) chownSync(folder, owner.uid, owner.gid)
      await pgRun('initdb', ['-D', data, '--auth=trust', '-U', 'postgres', '--no-sync', '-E', 'UTF8', '--locale=C'])
      writeFileSync(ready, '')
      return data
    } catch (error) {
      rmSync(folder, { recursive: true, force: true })
      throw error
    }
  }
}

/** Runs one statement on its own connection; returns its rows. */
export async function sql<R extends pg.QueryResultRow>(
  url: string,
  text: string,
  params: unknown[] = [],
): Promise<R[]> {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  try {
    return (await client.query<R>(text, params)).rows
  } finally {
    await client.end()
  }
}

/** The folder holding initdb and pg_ctl: PATH first, then Debian's /usr/lib/postgresql/<version>/bin (newest). */
function findBinaries(): string {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir && existsSync(join(dir, 'initdb')) && existsSync(join(dir, 'pg_ctl'))) return dir
  }
  const debian = '/usr/lib/postgresql'
  const versions = existsSync(debian)
    ? readdirSync(debian).filter((v) => existsSync(join(debian, v, 'bin', 'initdb')))
    : []
  const newest = versions.sort((a, b) => Number(b) - Number(a))[0]
  if (newest) return join(debian, newest, 'bin')
  throw new Error(
    'PostgreSQL is not installed: no initdb on PATH or under /usr/lib/postgresql/*/bin. ' +
      "The PostgreSQL store's tests start a real server. .ci/run installs Debian's postgresql; by hand: apt-get install -y postgresql",
  )
}

/** A TCP port on 127.0.0.1 nobody listens on (at the moment of asking). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      server.close(() =>
        typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port')),
      )
    })
  })
}
