import { verifyRun } from '../../inspect/verify.ts'
import { count } from '../../telemetry/progressText.ts'
import { EXIT } from '../exitCodes.ts'
import type { Io } from '../io.ts'

/**
 * `longhaul verify DIR` (or `--store URL --run ID`): exit 0 only when the
 * output is complete and clean, 1 when it is not. While a live process owns
 * the run, what it has committed so far is checked: exit 1 if that is
 * damaged, else exit 2 (the run is not finished: verify it once it ends).
 */
export async function verifyCommand(
  dir: string | undefined,
  options: { json?: boolean; store?: string; run?: string },
  io: Io,
): Promise<number> {
  const report = await verifyRun(dir, {
    ...(options.store !== undefined && { store: options.store }),
    ...(options.run !== undefined && { runId: options.run }),
  })
  if (options.json) io.out(JSON.stringify(report))
  else {
    io.out(
      [
        report.live
          ? `LIVE  ${report.job} in ${report.dir}: pid ${report.live.pid} on ${report.live.host} is running it (since ${report.live.since}); only what it has committed so far was checked`
          : `${report.complete ? 'COMPLETE' : 'INCOMPLETE'}  ${report.job} in ${report.dir}`,
        `  ${(report.unit ?? 'items').padEnd(11)} ${count(report.items)} / ${count(report.total)}`,
        `  missing     ${count(report.missing)}`,
        `  duplicates  ${count(report.duplicates)}`,
        `  corrupt     ${count(report.corrupt)}`,
        `  stray files ${count(report.stray.length)}`,
        ...(report.live
          ? []
          : [`  index.json  ${report.readerIndex === undefined ? 'matches the journal' : 'WRONG (see below)'}`]),
        report.digest ? `  digest      ${report.digest}` : '  digest      (only for a complete, clean output)',
        ...(report.live
          ? [
              `  the committed part is ${report.corrupt + report.duplicates === 0 ? 'intact' : 'DAMAGED'}; run verify again once the run has ended`,
            ]
          : []),
        ...report.problems.map((p) => `  ! ${p}`),
      ].join('\n'),
    )
  }
  if (report.live) return report.corrupt + report.duplicates + report.stray.length === 0 ? EXIT.usage : EXIT.failed
  return report.complete ? EXIT.ok : EXIT.failed
}
