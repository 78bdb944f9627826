/**
 * The processes of one shared run as real children: an owner (`run --store`) and workers (`longhaul worker`) of any
 * fixture job, with the extra flags a test gives both, and what the journal says of who holds a claim.
 */
import type { ChildProcess } from 'node:child_process'
import { hostname } from 'node:os'
import { type CliResult, startCli, waitFor } from './cli.ts'
import { sql } from './postgres.ts'

export interface SharedRunSpec {
  readonly job: string
  /** The journal's database. */
  readonly url: string
  /** The shared folder. */
  readonly out: string
  /** Flags both the owner and each worker take (--workers, --lease-ttl, --rate-limit…). */
  readonly flags: readonly string[]
  readonly env: Record<string, string>
  /** Every child started, for killedAfterEach. */
  readonly started: ChildProcess[]
}

export interface Participant {
  readonly child: ChildProcess
  readonly done: Promise<CliResult>
}

/** Starts the owner of `total` items and waits until it has recorded the run; returns it with the run's id. */
export async function startSharedOwner(
  spec: SharedRunSpec,
  total: number,
  ownerFlags: readonly string[] = [],
): Promise<Participant & { runId: string }> {
  const args = ['run', spec.job, '--out', spec.out, '--total', String(total), '--store', spec.url]
  const owner = startCli([...args, ...spec.flags, ...ownerFlags, '--json'], spec.env)
  spec.started.push(owner.child)
  let stderr = ''
  owner.child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
  const runId = await waitFor('the owner to record the run', () => {
    if (owner.child.exitCode !== null) throw new Error(`the owner exited early: ${stderr}`)
    return /--run (\S+)/.exec(stderr)?.[1]
  })
  return { ...owner, runId }
}

/** Starts a worker joining run `runId`. */
export function startSharedWorker(spec: SharedRunSpec, runId: string, flags: readonly string[] = []): Participant {
  const args = ['worker', spec.job, '--store', spec.url, '--run', runId, '--out', spec.out]
  const worker = startCli([...args, ...spec.flags, ...flags, '--json'], spec.env)
  spec.started.push(worker.child)
  return worker
}

/** Waits until process `pid` holds a live claim of the run. */
export async function holdsClaim(url: string, runId: string, pid: number, who: string): Promise<void> {
  await waitFor(`${who} to hold a claim`, async () => {
    const rows = await sql(
      url,
      'SELECT 1 FROM longhaul.claims WHERE run_id = $1 AND worker = $2 AND expires_at > 0 LIMIT 1',
      [runId, `${hostname()}:${pid}`],
    )
    return rows.length > 0 ? true : undefined
  })
}

/** The process's closing summary (`--json`), after checking it exited 0. */
export function summaryOf(result: CliResult): {
  state: string
  digest: string
  committedThisSession: number
} {
  if (result.code !== 0) throw new Error(`exited ${result.code ?? result.signal}: ${result.stderr}`)
  return JSON.parse(result.stdout)
}
