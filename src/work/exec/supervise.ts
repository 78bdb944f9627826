import { driveRun } from '../../run/lifecycle.ts'
import { localRole } from '../../run/role.ts'
import { openExecRun } from './openExecRun.ts'
import { type ExecOptions, type ExecResult, resolveExecSettings } from './options.ts'
import { Supervisor } from './supervisor.ts'

export type { ExecObserver, ExecOptions, ExecResult } from './options.ts'
export { programName } from './options.ts'

/** The name an exec run's owner renews its lease under. */
const WORKER = 'exec'

/**
 * `longhaul exec`: runs any program under supervision. Its progress (the
 * protocol's lines, else the tqdm bars it prints) becomes the same telemetry
 * as a map job's; a crash restarts it from its newest checkpoint, up to
 * `restarts` times; an abort is forwarded to it, and it is SIGKILLed if it
 * has not stopped after `graceMs`. Resolves with the program's fate and exit
 * code; throws a UsageError (before starting anything) for bad options, a
 * different command in the run directory, or a program that cannot start.
 *
 * The run is opened, driven and closed as every run is (driveRun): opened
 * gate-less with exec's identity, a program left running by a killed
 * supervisor stopped first, the session and its progress loop, the program's
 * lives (Supervisor, the work), its end recorded, and a Teardown in reverse
 * order of set-up keeping the first error.
 */
export async function superviseProgram(options: ExecOptions): Promise<ExecResult> {
  const settings = resolveExecSettings(options)
  const supervisor = new Supervisor(options, settings)
  const note = (message: string): void => options.observer?.note?.(message)
  const role = localRole(WORKER, () => openExecRun(options, settings, note))
  return await driveRun(supervisor, role, { settings, signal: options.signal, observer: supervisor.observer })
}
