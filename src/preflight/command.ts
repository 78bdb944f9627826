/** What the run that a proof covers is made of, as `longhaul run` takes it. */
export interface ProvedRun {
  readonly jobPath: string
  readonly outDir: string
  readonly target: number
  /** As given to preflight; absent: the job's own. */
  readonly seed?: number
  /** As given to preflight (before the schema resolved them), so that `run` resolves them the same way. */
  readonly params?: Readonly<Record<string, unknown>>
  readonly config?: string
  /** The worker count the rehearsal ran on, so the projected duration holds for this command; absent for a loop. */
  readonly workers?: number
  /** Items in flight per process, when preflight was given it. */
  readonly concurrency?: number
}

/**
 * The `run` command that the proof covers, as the user can paste it: the
 * same job, --out, total, seed, params and policy as preflight had, so its
 * fingerprint is the proof's (invariant gate), and the rehearsal's workers.
 */
export function runCommandLine(run: ProvedRun): string {
  const words = ['npx', 'longhaul', 'run', run.jobPath, '--out', run.outDir, '--total', String(run.target)]
  if (run.seed !== undefined) words.push('--seed', String(run.seed))
  if (run.params !== undefined && Object.keys(run.params).length > 0) words.push('--params', JSON.stringify(run.params))
  if (run.config !== undefined) words.push('--config', run.config)
  if (run.workers !== undefined) words.push('--workers', String(run.workers))
  if (run.concurrency !== undefined) words.push('--concurrency', String(run.concurrency))
  return words.map(shellWord).join(' ')
}

/** A word as a POSIX shell reads it back unchanged: bare when it is safe, else in single quotes. */
export function shellWord(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`
}
