import { existsSync, statSync } from 'node:fs'
import { resolve } from 'node:path'
import { type Dashboard, startDashboard } from '../../dashboard/server.ts'
import { UsageError } from '../../errors.ts'
import { EXIT } from '../exitCodes.ts'
import type { Io } from '../io.ts'

export interface ServeOptions {
  readonly port?: number
  readonly host?: string
  readonly token?: string
  readonly metricsPublic?: boolean
}

/** Starts the dashboard for every run under `root`, saying where it is (and its token, once). */
export async function openDashboard(root: string, options: ServeOptions, io: Io): Promise<Dashboard> {
  if (!existsSync(root) || !statSync(root).isDirectory())
    throw new UsageError(`${root} is not a folder; give the folder whose runs to show (default: ./runs, else .)`)
  const dashboard = await startDashboard({
    root,
    ...(options.port !== undefined && { port: options.port }),
    ...(options.host !== undefined && { host: options.host }),
    ...(options.token !== undefined && { token: options.token }),
    ...(options.metricsPublic && { metricsPublic: true }),
  }).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'EADDRINUSE')
      throw new UsageError(`port ${options.port ?? 8080} is in use; choose another with --port`)
    if (error.code === 'EADDRNOTAVAIL')
      throw new UsageError(`cannot listen on ${options.host}: not an address of this machine`)
    throw error
  })
  io.err(`longhaul dashboard for ${resolve(root)}: ${dashboard.url}`)
  for (const other of dashboard.urls.slice(1)) io.err(`  also at ${other}`)
  if (dashboard.token && options.token === undefined)
    io.err('  (a token was generated for this address; it is shown only here: every request needs it)')
  return dashboard
}

/** `longhaul serve [ROOT]`: the dashboard until Ctrl-C. */
export async function serveCommand(
  root: string | undefined,
  options: ServeOptions,
  io: Io,
  signal?: AbortSignal,
): Promise<number> {
  const dashboard = await openDashboard(root ?? (existsSync('runs') ? 'runs' : '.'), options, io)
  await new Promise<void>((done) => {
    if (!signal || signal.aborted) return done()
    signal.addEventListener('abort', () => done(), { once: true })
  })
  await dashboard.close()
  return EXIT.ok
}
