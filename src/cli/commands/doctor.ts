import { relative } from 'node:path'
import { type DoctorReport, doctorRun } from '../../inspect/doctor.ts'
import { loadJob } from '../../job/loadJob.ts'
import { parseParamPairs } from '../../job/params.ts'
import { count } from '../../telemetry/progressText.ts'
import { importJob } from '../../work/map/workerBundle.ts'
import { EXIT } from '../exitCodes.ts'
import type { Io } from '../io.ts'

export interface DoctorCommandOptions {
  readonly out?: string
  readonly total?: number
  readonly seed?: number
  readonly param: readonly string[]
  readonly params?: string
  readonly json?: boolean
}

/**
 * `longhaul doctor JOB --out DIR`: rebuilds the journal of a run whose
 * journal is lost or damaged from the shards in its data/ that prove
 * themselves; says so and exits 0 when the journal is healthy.
 */
export async function doctorCommand(jobPath: string, options: DoctorCommandOptions, io: Io): Promise<number> {
  const params = parseParamPairs(options.param, options.params)
  const outDir = options.out ?? `runs/${(await loadJob(jobPath, importJob)).name}`
  const report = await doctorRun({
    jobPath,
    outDir,
    params,
    ...(options.seed !== undefined && { seed: options.seed }),
    ...(options.total !== undefined && { total: options.total }),
  })
  if (options.json) io.out(JSON.stringify(report))
  else io.out(describe(report, outDir))
  return EXIT.ok
}

function describe(report: DoctorReport, outDir: string): string {
  if (report.outcome === 'healthy') {
    return [
      `HEALTHY  ${report.job} in ${report.dir}`,
      `  its journal is readable and records every shard data/ holds (${count(report.committed)} / ${count(report.total)} items committed): nothing to do, nothing was changed.`,
      `  \`longhaul verify ${outDir}\` checks the output; \`longhaul run\` resumes an unfinished run.`,
    ].join('\n')
  }
  const here = (path: string): string => relative(report.dir, path) || path
  const missing = report.total - report.adoptedItems
  return [
    `REBUILT  ${report.job} in ${report.dir}`,
    `  damage       ${report.damage}`,
    `  adopted      ${count(report.adoptedRanges)} range(s), ${count(report.adoptedItems)} / ${count(report.total)} items, each shard read back and proved by its own bytes`,
    `  quarantined  ${count(report.quarantined.length)} file(s)${report.quarantined.length ? ' (moved to .longhaul/quarantine, never deleted; their items are made again):' : ''}`,
    ...report.quarantined.map((file) => `    ${file.name} → ${here(file.movedTo)}: ${file.reason}`),
    `  old journal  ${report.journalMovedTo.length ? report.journalMovedTo.map(here).join(', ') : '(none: it was lost)'}`,
    `  index.json   rewritten from the new journal`,
    missing > 0
      ? `next: run the same \`longhaul run\` command (the same job, --param/--params and --seed) to make the ${count(missing)} missing items, then \`longhaul verify ${outDir}\`.`
      : `next: \`longhaul verify ${outDir}\` proves the output complete and prints its digest.`,
  ].join('\n')
}
