import { verifyRun } from '../../runner/index.ts'
import { EXIT } from '../exitCodes.ts'
import { count } from '../../telemetry/progressText.ts'
import type { Io } from '../io.ts'

/** `longhaul verify DIR` (or `--store URL --run ID`): exit 0 only when the output is complete and clean. */
export async function verifyCommand(dir: string | undefined, options: { json?: boolean; store?: string; run?: string }, io: Io): Promise<number> {
  const report = await verifyRun(dir, { ...(options.store !== undefined && { store: options.store }), ...(options.run !== undefined && { runId: options.run }) })
  if (options.json) io.out(JSON.stringify(report))
  else {
    io.out(
      [
        `${report.complete ? 'COMPLETE' : 'INCOMPLETE'}  ${report.job} in ${report.dir}`,
        `  ${(report.unit ?? 'items').padEnd(11)} ${count(report.items)} / ${count(report.total)}`,
        `  missing     ${count(report.missing)}`,
        `  duplicates  ${count(report.duplicates)}`,
        `  corrupt     ${count(report.corrupt)}`,
        `  stray files ${count(report.stray.length)}`,
        report.digest ? `  digest      ${report.digest}` : '  digest      (only for a complete, clean output)',
        ...report.problems.map((p) => `  ! ${p}`),
      ].join('\n'),
    )
  }
  return report.complete ? EXIT.ok : EXIT.failed
}
