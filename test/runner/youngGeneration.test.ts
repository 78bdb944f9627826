/**
 * A worker thread that makes one item at a time has a young generation of at most 2 MB (threadPool.ts): V8 sizes it by
 * what survives its collections, and a long run of small items grew it to 8 MiB of semi-spaces per thread, resident
 * for the whole run (bench/README.md, "Memory").
 */
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { expect, it } from 'vitest'
import { runMapJob } from '../../src/index.ts'
import { fixture, tempDir } from '../support/cli.ts'

it('a worker thread making one item at a time keeps its young generation at 2 MB however long the run', async () => {
  const outDir = join(tempDir(), 'run')
  const summary = await runMapJob({ jobPath: fixture('young-generation.ts'), outDir, workers: 2 })
  expect(summary.state).toBe('complete')
  const sizes = readdirSync(join(outDir, 'data'))
    .filter((name) => name.endsWith('.jsonl'))
    .flatMap((name) =>
      readFileSync(join(outDir, 'data', name), 'utf8')
        .trim()
        .split('\n'),
    )
    .map((line) => (JSON.parse(line) as { newSpaceKiB: number }).newSpaceKiB)
  expect(sizes).toHaveLength(60_000)
  expect(Math.max(...sizes)).toBeLessThanOrEqual(2048)
})
