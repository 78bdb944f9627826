// A throwaway PostgreSQL server for a benchmark: a fresh cluster (initdb) in a
// temporary folder, listening on 127.0.0.1 and a free port, with the server's
// own defaults (fsync on: commits are as durable as in production), removed by
// stop(). Under root, initdb and pg_ctl run as the `postgres` user, which owns
// the folder (they refuse root). test/support/postgres.ts does the same for the
// tests, with fsync off.
import { execFile, execFileSync } from 'node:child_process'
import { chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { delimiter, join } from 'node:path'
import { promisify } from 'node:util'
import pg from 'pg'

const run = promisify(execFile)

/** Starts a server; resolves to its `urlFor(database)`, `createDatabase(name)` and `stop()`. */
export async function startPostgres() {
  const bin = findBinaries()
  const asRoot = process.getuid?.() === 0
  const pgRun = (program, args) =>
    asRoot ? run('runuser', ['-u', 'postgres', '--', join(bin, program), ...args]) : run(join(bin, program), args)
  const root = mkdtempSync(join(tmpdir(), 'longhaul-bench-pg-'))
  const data = join(root, 'data')
  const log = join(root, 'server.log')
  if (asRoot)
    chownSync(
      root,
      Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' })),
      Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' })),
    )
  const port = await freePort()
  let running = false
  const stopNow = () => {
    if (running) {
      running = false
      const args = ['-D', data, '-m', 'immediate', 'stop']
      execFileSync(
        asRoot ? 'runuser' : join(bin, 'pg_ctl'),
        asRoot ? ['-u', 'postgres', '--', join(bin, 'pg_ctl'), ...args] : args,
        { stdio: 'ignore' },
      )
    }
    rmSync(root, { recursive: true, force: true })
  }
  // A benchmark that throws or is interrupted still stops its server.
  process.once('exit', stopNow)
  try {
    await pgRun('initdb', ['-D', data, '--auth=trust', '-U', 'postgres', '--no-sync', '-E', 'UTF8', '--locale=C'])
    await pgRun('pg_ctl', [
      '-D',
      data,
      '-l',
      log,
      '-o',
      `-p ${port} -k ${root} -c listen_addresses=127.0.0.1`,
      '-w',
      '-t',
      '30',
      'start',
    ])
    running = true
  } catch (error) {
    const tail = existsSync(log) ? readFileSync(log, 'utf8').split('\n').slice(-15).join('\n') : ''
    stopNow()
    throw new Error(`the benchmark's PostgreSQL server did not start on port ${port}: ${error.message}\n${tail}`)
  }
  const urlFor = (database) => `postgres://postgres@127.0.0.1:${port}/${database}`
  return {
    urlFor,
    /** A new, empty database; resolves to its URL. */
    async createDatabase(name) {
      const admin = new pg.Client({ connectionString: urlFor('postgres') })
      await admin.connect()
      try {
        await admin.query(`CREATE DATABASE ${name}`)
      } finally {
        await admin.end()
      }
      return urlFor(name)
    },
    stop() {
      process.off('exit', stopNow)
      stopNow()
    },
  }
}

/** The folder holding initdb and pg_ctl: PATH first, then Debian's /usr/lib/postgresql/<version>/bin (newest). */
function findBinaries() {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir && existsSync(join(dir, 'initdb')) && existsSync(join(dir, 'pg_ctl'))) return dir
  }
  const debian = '/usr/lib/postgresql'
  const newest = existsSync(debian)
    ? readdirSync(debian)
        .filter((v) => existsSync(join(debian, v, 'bin', 'initdb')))
        .sort((a, b) => Number(b) - Number(a))[0]
    : undefined
  if (newest) return join(debian, newest, 'bin')
  throw new Error(
    'PostgreSQL is not installed (no initdb on PATH or under /usr/lib/postgresql/*/bin): apt-get install -y postgresql',
  )
}

function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address()
      server.close(() => resolve(port))
    })
  })
}
