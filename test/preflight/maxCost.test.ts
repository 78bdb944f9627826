/**
 * The policy's maxCostUsd: preflight projects the target's cost from what the rehearsal's items reported with
 * ctx.usage({ usd }), with an interval, and a projection whose upper bound is above the cap fails, naming the numbers.
 */
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { expect, it } from 'vitest'
import { preflight } from '../../src/preflight/preflight.ts'
import { fixture, tempDir } from '../support/cli.ts'

const TARGET = 2_000

it('maxCostUsd: a target whose projected cost is above the cap fails preflight, naming the projection and the cap', async () => {
  const dir = tempDir()
  const config = join(dir, 'longhaul.config.mjs')
  // Each item of paid.ts costs $0.00100–$0.00116: 2,000 of them about $2.16, above a $1 cap. The crash/resume check,
  // which the cap does not touch, kills the smallest run the policy allows once (not 200 items 5 times): it must still
  // pass, and costs two child processes instead of six.
  writeFileSync(config, 'export default { maxCostUsd: 1, crashItems: 20, crashKills: 1 }\n')
  const result = await preflight({ jobPath: fixture('paid.ts'), target: TARGET, outDir: join(dir, 'paid'), config })
  const { checks, rules } = result.statement.predicate
  const failed = checks.filter((c) => !c.passed)
  expect(failed.map((c) => c.id)).toEqual(['rehearsal'])
  const rehearsal = failed[0]!
  const projected = rehearsal.measurements.projectedUsage as Record<string, number>
  const low = rehearsal.measurements.projectedUsageLow as Record<string, number>
  const high = rehearsal.measurements.projectedUsageHigh as Record<string, number>
  // The first 200 items (the rehearsal) average $0.00108 each.
  expect(projected.usd).toBeGreaterThan(2)
  expect(projected.usd).toBeLessThan(2.4)
  expect(low.usd).toBeLessThanOrEqual(projected.usd!)
  expect(high.usd).toBeGreaterThanOrEqual(projected.usd!)
  expect(rehearsal.failures.join('\n')).toMatch(
    /cost: 2,000 items project to \$2\.\d\d \(\$[\d.]+ – \$[\d.]+, at \$0\.001\d* an item\), above the policy's maxCostUsd \$1\.00/,
  )
  expect(rules.find((r) => r.rule === 'maxCostUsd')).toMatchObject({ passed: false, value: 1 })
  expect(result.passed).toBe(false)
  expect(readFileSync(result.reportPath, 'utf8')).toMatch(/maxCostUsd/)
})
