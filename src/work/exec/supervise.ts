import { Teardown } from '../../run/teardown.ts'
import { openExecRun } from './openExecRun.ts'
import { type ExecOptions, type ExecResult, resolveExecSettings } from './options.ts'
import { stopOrphan } from './orphan.ts'
import { Supervisor } from './supervisor.ts'

export type { ExecObserver, ExecOptions, ExecResult } from './options.ts'
export { programName } from './options.ts'

/**
 * `longhaul exec`: runs any program under supervision. Its progress (the
 * protocol's lines, else the tqdm bars it prints) becomes the same telemetry
 * as a map job's; a crash restarts it from its newest checkpoint, up to
 * `restarts` times; an abort is forwarded to it, and it is SIGKILLed if it
 * has not stopped after `graceMs`. Resolves with the program's fate and exit
 * code; throws a UsageError (before starting anything) for bad options, a
 * different command in the run directory, or a program that cannot start.
 *
 * The run is opened, driven and closed as every run is: openRunDir (gate-less,
 * with exec's identity), the progress loop, a Teardown in reverse order of
 * set-up keeping the first error.
 */
export async function superviseProgram(options: ExecOptions): Promise<ExecResult> {
  const settings = resolveExecSettings(options)
  const note = (message: string): void => options.observer?.note?.(message)
  const open = await openExecRun(options, settings, note)
  const { store, lease, run, paths } = open
  // Undone last first: what the session sets up (see Supervisor.run), the lease, the journal.
  const teardown = new Teardown()
  teardown.defer(() => store.close())
  teardown.defer(() => store.releaseOwner(lease.token).catch(() => undefined))
  try {
    // One copy at a time: a program its killed supervisor left running is stopped before anything else happens.
    await stopOrphan(store, options.outDir, settings.graceMs, note)
    if (run.state === 'complete') {
      note(`${options.outDir} holds a completed run of this command; pass --fresh to run it again`)
      return {
        job: open.identity.job,
        runId: run.runId,
        dir: paths.dir,
        state: 'complete',
        exitCode: 0,
        programExitCode: null,
        lives: 0,
        checkpoint: null,
        malformedLines: 0,
        error: null,
      }
    }
    if (open.movedAsideTo) note(`the previous run was moved to ${open.movedAsideTo}`)
    return await new Supervisor(options, settings, open, teardown).run()
  } finally {
    await teardown.close()
  }
}
