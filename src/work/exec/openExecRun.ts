import { createHash } from 'node:crypto'
import stringify from 'safe-stable-stringify'
import { FingerprintMismatchError } from '../../errors.ts'
import type { RunRecord } from '../../journal/store.ts'
import { type JobFacts, localHome, type OpenedRunDir, type OpenOptions, openRunDir } from '../../run/openRun.ts'
import type { ExecOptions, ExecSettings } from './options.ts'
import { stopOrphan, stopOrphanBeforeFresh } from './orphan.ts'

/** What makes an exec run the same run: resuming it with another command is refused. */
export interface ExecIdentity {
  readonly kind: 'exec'
  readonly job: string
  readonly command: string
  readonly args: readonly string[]
  readonly cwd: string
}

/**
 * Opens (or creates) the run of a supervised program in `outDir`, by the one
 * algorithm every run is opened with (openRunDir, with a journal file in the
 * folder), with what is exec's own: its identity and fingerprint (the
 * command, its arguments and folder), the refusal of another command in the
 * same run directory, saying which, and, before --fresh sets a run aside, the
 * stopping of a program its killed supervisor left running. The journal's
 * total is the --total given when the run was created, else 1: the program's
 * own count lives in progress.json. Once it is open, a program its killed
 * supervisor left running is stopped before anything else happens (one copy
 * at a time); if it cannot be, the run is let go and the refusal thrown.
 */
export async function openExecRun(
  options: ExecOptions,
  settings: ExecSettings,
  note: (message: string) => void,
): Promise<OpenedRunDir & { readonly identity: ExecIdentity }> {
  const identity: ExecIdentity = {
    kind: 'exec',
    job: settings.job,
    command: options.command,
    args: options.args,
    cwd: settings.cwd,
  }
  const fingerprint = createHash('sha256')
    .update(stringify(identity) ?? '')
    .digest('hex')
  // No job file: the target is the folder, named for messages by its command; the launch gate when the owner asks for one.
  const target: OpenOptions = {
    jobPath: options.command,
    outDir: options.outDir,
    ...(options.fresh !== undefined && { fresh: options.fresh }),
    ...(options.gate && { gate: options.gate }),
    leaseTtlMs: settings.leaseTtlMs,
    now: settings.now,
  }
  const facts: JobFacts = {
    kind: 'exec',
    name: identity.job,
    params: null,
    seed: 0,
    // The journal records the identity as given; only exec's own refusal below reads it back.
    identity: identity as unknown as JobFacts['identity'],
    fingerprint,
    defaultTotal: options.total ?? 1,
  }
  const refuseOther = (run: RunRecord | undefined): void => {
    if (run && run.fingerprint !== fingerprint)
      throw new FingerprintMismatchError(options.outDir, [differences(run, identity)])
  }
  const local = localHome(target, facts)
  const opened = await openRunDir(target, facts, {
    ...local,
    async peek() {
      const run = await local.peek()
      refuseOther(run)
      return run
    },
    async prepare() {
      // One copy at a time: the program of the run --fresh sets aside is stopped first (refused if its supervisor lives).
      if (options.fresh) await stopOrphanBeforeFresh(options.outDir, settings.leaseTtlMs, settings.graceMs, note)
      return await local.prepare()
    },
    async check(run) {
      refuseOther(run)
      await local.check?.(run)
    },
  })
  try {
    await stopOrphan(opened.store, options.outDir, settings.graceMs, note)
  } catch (error) {
    await opened.store.releaseOwner(opened.lease.token).catch(() => undefined)
    await opened.store.close()
    throw error
  }
  return { ...opened, identity }
}

function differences(run: RunRecord, now: ExecIdentity): string {
  const before = JSON.parse(run.identity) as ExecIdentity
  if (run.kind !== 'exec')
    return `it holds a ${'sources' in before ? 'job' : 'run'} '${String((before as { job?: unknown }).job)}' made by longhaul run, not a supervised program`
  const show = (i: ExecIdentity): string => [i.command, ...i.args].join(' ')
  if (show(before) !== show(now)) return `it ran \`${show(before)}\`, not \`${show(now)}\``
  if (before.cwd !== now.cwd) return `it ran in ${before.cwd}, not ${now.cwd}`
  return 'the command differs'
}
