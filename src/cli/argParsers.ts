/** How the command line's option values are read: each throws commander's InvalidArgumentError, which prints usage. */
import { createRequire } from 'node:module'
import type * as Commander from '@commander-js/extra-typings'

// Required rather than imported, as in main.ts: the package's ES module wrapper is slower to load.
const { InvalidArgumentError } = createRequire(import.meta.url)('@commander-js/extra-typings') as typeof Commander

export function wholeNumber(min: number, max = Number.MAX_SAFE_INTEGER) {
  return (value: string): number => {
    const n = Number(value)
    if (!Number.isSafeInteger(n) || n < min || n > max) {
      const range = max === Number.MAX_SAFE_INTEGER ? `of at least ${min}` : `from ${min} to ${max}`
      throw new InvalidArgumentError(`expected a whole number ${range}, got '${value}'`)
    }
    return n
  }
}

export function positiveSeconds(value: string): number {
  const n = Number(value)
  if (!Number.isFinite(n) || n < 0.1)
    throw new InvalidArgumentError(`expected a number of seconds of at least 0.1, got '${value}'`)
  return n
}

export function collect(value: string, previous: string[]): string[] {
  return [...previous, value]
}
