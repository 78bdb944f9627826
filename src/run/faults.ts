/**
 * Fault injection for the conformance suite (`longhaul preflight`):
 * `LONGHAUL_CRASH_AT=commit:N` makes this process SIGKILL itself at its Nth
 * commit, after the shard's files are durable and before the journal records
 * them: the instant invariant atomic-commit is about. Unset, it costs one
 * comparison per commit.
 *
 * `LONGHAUL_CRASH_AT=finalize:N` does the same at the Nth commit once the
 * journal has recorded it, before its staged files get their final names.
 *
 * `LONGHAUL_CRASH_AT=loop-checkpoint:N` does the same at a loop's Nth
 * checkpoint, once it is durable and recorded and before older checkpoints
 * are pruned.
 *
 * `LONGHAUL_CRASH_AT=program-spawned:N` does it in `longhaul exec` when the
 * Nth life of the program is spawned, held at its gate, and not yet journaled.
 */
type FaultPoint = 'commit' | 'finalize' | 'loop-checkpoint' | 'program-spawned'

/** This process's fault plan, read from its environment at the first fault point it passes (not when imported). */
let plan: { readonly point: string | undefined; remaining: number } | undefined

export function crashPoint(name: FaultPoint): void {
  if (plan === undefined) {
    const [point, countText] = (process.env.LONGHAUL_CRASH_AT ?? '').split(':')
    plan = { point, remaining: Number(countText) || 0 }
  }
  if (plan.point !== name || plan.remaining <= 0) return
  if (--plan.remaining === 0) process.kill(process.pid, 'SIGKILL')
}
