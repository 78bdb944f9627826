/**
 * bounded-memory: memory does not grow with total. Items of 4 KiB, so a run
 * that kept its items (or anything per item) would need hundreds of MiB more
 * at the larger total. Peak RSS includes the worker threads. The smaller run
 * is long enough for the worker heaps to reach their working size, which they
 * do in the first ~100,000 items whatever the total (see bench/README.md).
 */
import { execFileSync } from 'node:child_process'
import { join } from 'node:path'
import { expect, it } from 'vitest'
import { fixture, LONG, ROOT, tempDir } from '../support/cli.ts'

const SMALL = LONG ? 200_000 : 25_000
const LARGE = LONG ? 1_000_000 : 125_000

function peakRssKiB(total: number, out: string): number {
  const stdout = execFileSync(
    process.execPath,
    [join(ROOT, 'test/support/peakRss.mjs'), fixture('blobs.ts'), out, String(total), '2'],
    {
      env: { ...process.env, BLOB_BYTES: '4096' },
      encoding: 'utf8',
    },
  )
  return (JSON.parse(stdout.trim().split('\n').at(-1)!) as { maxRssKiB: number }).maxRssKiB
}

/** What the worker heaps may still grow by after the smaller run (they size themselves to the allocation rate). */
const WARM_UP_KIB = 160 * 1024

it(`bounded-memory: peak RSS at ${LARGE.toLocaleString('en-US')} items of 4 KiB is within 160 MiB of the peak at ${SMALL.toLocaleString('en-US')}`, () => {
  const root = tempDir()
  const small = peakRssKiB(SMALL, join(root, 'small'))
  const large = peakRssKiB(LARGE, join(root, 'large'))
  // Keeping the items would add (LARGE - SMALL) × 4 KiB: ≥ 390 MiB here, ≥ 3 GiB in the long version.
  expect(large - small).toBeLessThanOrEqual(WARM_UP_KIB)
})
