import { createRequire } from 'node:module'
import type * as Commander from '@commander-js/extra-typings'
import { LonghaulError, UsageError } from '../errors.ts'
import { interruptOnSignals } from '../run/signals.ts'
import { EXIT, exitCodeFor } from './exitCodes.ts'
import { type Io, processIo } from './io.ts'
import { program } from './program.ts'

// Required rather than imported: the package's ES module wrapper costs every command about 10 ms more to load.
const { CommanderError } = createRequire(import.meta.url)('@commander-js/extra-typings') as typeof Commander

/** What the first Ctrl-C does, said at once: a long step or a slow program could otherwise look like a hang. */
const STOPPING: Readonly<Record<string, string>> = {
  run: 'finishing the items (or the loop step) in progress and committing them',
  worker: 'finishing the items in progress, committing them and giving back the rest',
  preflight: 'stopping the child run and removing the scratch folder',
  exec: 'forwarding it to the program and waiting for it to stop (up to --grace)',
  serve: 'closing the dashboard',
  watch: 'stopping the view (the run goes on)',
}

/** Runs the CLI with `argv` (without node and script); returns the exit code. Never exits the process itself. */
export async function main(argv: readonly string[], io: Io = processIo, signal?: AbortSignal): Promise<number> {
  const result = { code: EXIT.ok as number }
  // Only the commands that run for long stop cleanly on Ctrl-C; the others keep the default (exit at once).
  const interruptible = ['run', 'worker', 'watch', 'preflight', 'serve', 'exec'].includes(argv[0] ?? '')
  const command = argv[0]
  const signals =
    signal || !interruptible
      ? undefined
      : interruptOnSignals(
          (name) => {
            io.err(`longhaul: ${name} again — stopping now; committed work is safe, run the same command to resume.`)
            process.exit(EXIT.interrupted)
          },
          {
            // A supervised program no longer gets the terminal's hangup (it has its own process group): longhaul forwards it.
            signals: command === 'exec' ? ['SIGINT', 'SIGTERM', 'SIGHUP'] : ['SIGINT', 'SIGTERM'],
            onFirst: (name) =>
              io.err(
                `longhaul: ${name} — ${STOPPING[command ?? ''] ?? 'stopping'}; ${name === 'SIGINT' ? 'Ctrl-C' : name} again to stop at once.`,
              ),
          },
        )
  try {
    await program(io, result, signal ?? signals?.signal).parseAsync([...argv], { from: 'user' })
    return result.code
  } catch (error) {
    if (error instanceof CommanderError) {
      return error.code === 'commander.helpDisplayed' ||
        error.code === 'commander.version' ||
        error.code === 'commander.help'
        ? EXIT.ok
        : EXIT.usage
    }
    if (error instanceof UsageError || error instanceof LonghaulError) io.err(`longhaul: ${error.message}`)
    else io.err(`longhaul: internal error — please report it:\n${(error as Error).stack ?? String(error)}`)
    if (error instanceof LonghaulError && 'itemStack' in error && typeof error.itemStack === 'string')
      io.err(error.itemStack)
    return exitCodeFor(error)
  } finally {
    signals?.dispose()
  }
}
