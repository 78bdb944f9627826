/**
 * A Python job's records are written as a TypeScript job's are: a jsonl line holds the bytes JSON.stringify writes
 * for the same value (so its item hash is the same), and a value the output cannot hold fails the item, named.
 */
import { execFileSync } from 'node:child_process'
import { join } from 'node:path'
import fc from 'fast-check'
import { afterEach, expect, it, vi } from 'vitest'
import { runMapJob, ValueNotRepresentableError } from '../../src/index.ts'
import { PYTHON_HELPER } from '../../src/job/pythonJob.ts'
import { ROOT, tempDir } from '../support/cli.ts'

afterEach(() => {
  vi.unstubAllEnvs()
})

/** Each value as longhaul.py writes it in a jsonl line: one Python process for the lot. */
function pythonLines(texts: readonly string[], setup = 'value = json.loads(line)'): string[] {
  const script = `import json, sys
sys.path.insert(0, ${JSON.stringify(join(PYTHON_HELPER, '..'))})
import longhaul
import numpy as np
for line in sys.stdin.read().split("\\n")[:-1]:
    ${setup}
    print(longhaul._js_json(value))`
  return execFileSync('python3', ['-c', script], { input: texts.map((text) => `${text}\n`).join(''), encoding: 'utf8' })
    .split('\n')
    .slice(0, -1)
}

it('item hashes match TypeScript: a jsonl line from Python is byte for byte what JSON.stringify writes for the same value', () => {
  const values = fc.sample(fc.jsonValue({ maxDepth: 3 }), { numRuns: 400, seed: 20261205 })
  const texts = [...values, { b: 1, 2: 'x', 10: [], a: 'é\n"\u0001', '01': 3 }].map((value) => JSON.stringify(value))
  expect(pythonLines(texts)).toEqual(texts)
})

it('item hashes match TypeScript: a Python float is written as JavaScript writes the same number', () => {
  const tricky = [
    1,
    1.5,
    1e21,
    1e20,
    123e18,
    1e-7,
    1e-6,
    1.5e-6,
    -0,
    0.1 + 0.2,
    5e-324,
    1.7976931348623157e308,
    2 ** 53,
  ]
  const numbers = [
    ...tricky,
    ...fc.sample(fc.double({ noNaN: true, noDefaultInfinity: true }), { numRuns: 400, seed: 7 }),
  ]
  // Each read by Python as a float (the same double: JSON.stringify's digits round-trip), then written by longhaul.py.
  expect(
    pythonLines(
      numbers.map((n) => JSON.stringify(n)),
      'value = float(line)',
    ),
  ).toEqual(numbers.map((n) => JSON.stringify(n)))
})

it('item hashes match TypeScript: numpy values are written as their Python values, as JavaScript writes the same numbers', () => {
  const lines = pythonLines(
    ['0'],
    'value = {"f32": np.float32(0.1), "i64": np.int64(7), "arr": np.arange(3, dtype=np.uint8), "t": (True, None)}',
  )
  expect(lines).toEqual([JSON.stringify({ f32: Math.fround(0.1), i64: 7, arr: [0, 1, 2], t: [true, null] })])
})

it('item hashes match TypeScript: a dict is written in the key order of the JavaScript object with the same keys (array indices first)', () => {
  const lines = pythonLines(['0'], 'value = {"b": 1, "2": "x", 10: [], "a": 2, "01": 3}')
  expect(lines).toEqual([JSON.stringify({ b: 1, 2: 'x', 10: [], a: 2, '01': 3 })])
})

it('a value the jsonl output cannot hold (NaN) fails its item without retries, naming the item and the field', async () => {
  vi.stubEnv('NAN_AT', '13')
  const out = join(tempDir(), 'out')
  const failed = await runMapJob({
    jobPath: join(ROOT, 'test/fixtures/python/squares.py'),
    outDir: out,
    total: 40,
  }).catch((error: unknown) => error)
  expect(failed).toBeInstanceOf(ValueNotRepresentableError)
  expect(failed).toMatchObject({ index: 13, field: 'ratio[1]', value: 'nan' })
  expect((failed as Error).message).toContain("item 13 field 'ratio[1]' is nan: JSON has no NaN")
})
