import { openRecords } from '../inspect/records.ts'
import type { MapJob } from '../job/defineJob.ts'
import { pythonValidation } from '../job/pythonJob.ts'
import type { Policy } from './policy.ts'
import type { CheckResult } from './proof.ts'

/** How many rejected indices and reasons the report keeps. */
const FIRST = 10

/** What the job's validators said of the rehearsal's records; `judgeValidation` makes the verdict from it alone. */
export interface ValidationEvidence {
  /** The job declares validate(record) or datasetChecks. */
  readonly declared: boolean
  readonly hasValidate: boolean
  /** Absent when the rehearsal did not complete (nothing to read). */
  readonly records?: {
    readonly count: number
    readonly rejected: number
    readonly firstRejected: readonly { readonly index: number; readonly reason: string }[]
    readonly datasets: readonly { readonly name: string; readonly passed: boolean; readonly reason: string | null }[]
  }
}

/**
 * The job's own data validators over every rehearsal record, read back from
 * the output as a loader sees it (none when `dir` is undefined: the rehearsal
 * did not complete).
 */
export async function validationEvidence(
  job: MapJob,
  jobPath: string,
  dir: string | undefined,
): Promise<ValidationEvidence> {
  const declared = job.validate !== undefined || Object.keys(job.datasetChecks).length > 0
  const base = { declared, hasValidate: job.validate !== undefined }
  if (!declared || !dir) return base
  const inPython = pythonValidation(job, jobPath)
  if (inPython) return { ...base, records: await inPython(dir) }
  const output = await openRecords(dir)
  return { ...base, records: validateRecords(job, () => output.records(), output.count) }
}

/** `validate(record, index)` over each record, then each dataset check over all of them (`records` is read once per pass). */
export function validateRecords(
  job: Pick<MapJob, 'validate' | 'datasetChecks'>,
  records: () => Iterable<{ readonly index: number; readonly record: unknown }>,
  count: number,
): NonNullable<ValidationEvidence['records']> {
  const { validate, datasetChecks } = job
  let rejected = 0
  const firstRejected: { index: number; reason: string }[] = []
  if (validate) {
    for (const { index, record } of records()) {
      const reason = verdictOf(() => validate(record, index))
      if (reason === null) continue
      rejected++
      if (firstRejected.length < FIRST) firstRejected.push({ index, reason })
    }
  }
  const datasets = Object.keys(datasetChecks).map((name) => {
    const check = datasetChecks[name]!
    const reason = verdictOf(() =>
      check(
        (function* () {
          for (const { record } of records()) yield record
        })(),
      ),
    )
    return { name, passed: reason === null, reason }
  })
  return { count, rejected, firstRejected, datasets }
}

/** The validation verdict: validators declared (if the policy requires them), few enough rejected, every dataset check met. */
export function judgeValidation(policy: Policy, e: ValidationEvidence): CheckResult {
  const base = { id: 'validation' as const, title: 'Data validation' }
  if (!e.declared) {
    const passed = !policy.requireValidators
    return {
      ...base,
      passed,
      evidence: 'the job declares no validate(record) or datasetChecks',
      failures: passed
        ? []
        : [
            'validation: the policy requires validators and the job declares no validate(record); add one to defineJob({...})',
          ],
      measurements: { records: 0, declared: false },
    }
  }
  if (!e.records)
    return {
      ...base,
      passed: false,
      evidence: 'not run: the rehearsal did not complete',
      failures: ['validation: not run, the rehearsal did not complete'],
      measurements: {},
    }
  const { count, rejected, firstRejected, datasets } = e.records
  const share = count > 0 ? rejected / count : 0
  const failures: string[] = []
  if (share > policy.maxInvalidFraction) {
    failures.push(
      `validation: validate() rejected ${rejected} of ${count} records (${(share * 100).toFixed(1)}%, the policy allows ${(policy.maxInvalidFraction * 100).toFixed(1)}%); ` +
        `first at ${firstRejected.map((r) => r.index).join(', ')}: ${firstRejected[0]?.reason}`,
    )
  }
  for (const d of datasets.filter((d) => !d.passed))
    failures.push(`validation: dataset check '${d.name}' failed: ${d.reason}`)
  return {
    ...base,
    passed: failures.length === 0,
    evidence: `${e.hasValidate ? `validate() on ${count} records: ${rejected} rejected` : 'no validate()'}${datasets.length ? `; dataset checks ${datasets.map((d) => `${d.name} ${d.passed ? '✔' : '✘'}`).join(', ')}` : ''}`,
    failures,
    measurements: {
      declared: e.hasValidate,
      records: count,
      rejected,
      rejectedShare: share,
      firstRejected,
      datasetChecks: datasets,
    },
  }
}

/** null when the validator accepts; the reason when it returns false or a string, or throws. */
function verdictOf(run: () => boolean | string | undefined): string | null {
  try {
    const result = run()
    if (result === undefined || result === true) return null
    return result === false ? 'rejected' : String(result)
  } catch (error) {
    return `threw: ${(error as Error).message}`
  }
}
