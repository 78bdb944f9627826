import type { MapJob } from '../job/defineJob.ts'
import { openRecords } from '../runner/records.ts'
import type { Policy } from './policy.ts'
import type { CheckResult } from './proof.ts'

/** How many rejected indices and reasons the report keeps. */
const FIRST = 10

/**
 * The job's own data validators over every rehearsal record, read back from
 * the output as a loader sees it: `validate(record, index)` per record, then
 * each dataset-level check over all of them.
 */
export async function checkValidation(o: {
  policy: Policy
  job: MapJob
  dir: string | undefined
}): Promise<CheckResult> {
  const { validate, datasetChecks } = o.job
  const names = Object.keys(datasetChecks)
  const base = { id: 'validation' as const, title: 'Data validation' }
  if (!validate && names.length === 0) {
    const passed = !o.policy.requireValidators
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
  if (!o.dir)
    return {
      ...base,
      passed: false,
      evidence: 'not run: the rehearsal did not complete',
      failures: ['validation: not run, the rehearsal did not complete'],
      measurements: {},
    }

  const output = await openRecords(o.dir)
  let rejected = 0
  const firstRejected: { index: number; reason: string }[] = []
  if (validate) {
    for (const { index, record } of output.records()) {
      const reason = verdictOf(() => validate(record, index))
      if (reason === null) continue
      rejected++
      if (firstRejected.length < FIRST) firstRejected.push({ index, reason })
    }
  }
  const datasets = names.map((name) => {
    const check = datasetChecks[name]!
    const reason = verdictOf(() =>
      check(
        (function* () {
          for (const { record } of output.records()) yield record
        })(),
      ),
    )
    return { name, passed: reason === null, reason }
  })
  const share = output.count > 0 ? rejected / output.count : 0
  const failures: string[] = []
  if (share > o.policy.maxInvalidFraction) {
    failures.push(
      `validation: validate() rejected ${rejected} of ${output.count} records (${(share * 100).toFixed(1)}%, the policy allows ${(o.policy.maxInvalidFraction * 100).toFixed(1)}%); ` +
        `first at ${firstRejected.map((r) => r.index).join(', ')}: ${firstRejected[0]?.reason}`,
    )
  }
  for (const d of datasets.filter((d) => !d.passed))
    failures.push(`validation: dataset check '${d.name}' failed: ${d.reason}`)
  return {
    ...base,
    passed: failures.length === 0,
    evidence: `${validate ? `validate() on ${output.count} records: ${rejected} rejected` : 'no validate()'}${datasets.length ? `; dataset checks ${datasets.map((d) => `${d.name} ${d.passed ? '✔' : '✘'}`).join(', ')}` : ''}`,
    failures,
    measurements: {
      declared: validate !== undefined,
      records: output.count,
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
