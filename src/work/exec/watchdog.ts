import { type ChildProcess, spawn } from 'node:child_process'

/**
 * Reads process groups, one a line; at end of input (the supervisor is gone:
 * its end of the pipe closed, whatever killed it) the last group named, if
 * not 0, gets SIGTERM, then SIGKILL once $1 seconds passed with it alive.
 */
const SCRIPT = `pg=0
while IFS= read -r line; do pg=$line; done
[ "$pg" -gt 0 ] 2>/dev/null || exit 0
kill -TERM -"$pg" 2>/dev/null || exit 0
n=0
while [ "$n" -lt "$1" ]; do sleep 1; kill -0 -"$pg" 2>/dev/null || exit 0; n=$((n + 1)); done
kill -KILL -"$pg" 2>/dev/null
exit 0`

/**
 * A program must not outlive its supervisor (invariant exec-runs-once): a
 * killed supervisor cannot stop it, so a tiny shell outside both their
 * process groups does. It holds the read end of a pipe only the supervisor
 * writes to; when that ends without the program's group having been
 * cleared, the program's group is stopped (SIGTERM, SIGKILL after the
 * grace period). A silent program, which no broken pipe would ever stop,
 * thus ends within the grace period of its supervisor's death.
 */
export class Watchdog {
  private constructor(private readonly child: ChildProcess) {}

  /** Not waited for: what is written before it has started waits in its pipe. */
  static start(graceMs: number): Watchdog {
    const child = spawn(
      '/bin/sh',
      ['-c', SCRIPT, 'longhaul-watchdog', String(Math.max(1, Math.ceil(graceMs / 1000)))],
      {
        stdio: ['pipe', 'ignore', 'ignore'],
        // Its own session: a Ctrl-C or a hangup meant for longhaul does not reach it.
        detached: true,
      },
    )
    child.on('error', () => undefined)
    child.stdin!.on('error', () => undefined)
    child.unref()
    return new Watchdog(child)
  }

  /** From now on, the supervisor's death stops process group `pgid`. */
  watch(pgid: number): void {
    this.child.stdin!.write(`${pgid}\n`)
  }

  /** The program's group is gone: nothing is to be stopped. */
  clear(): void {
    this.child.stdin!.write('0\n')
  }

  /** The session ends with nothing to stop: the watchdog exits. */
  end(): void {
    this.clear()
    this.child.stdin!.end()
  }
}
