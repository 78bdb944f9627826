import { ValueNotRepresentableError } from '../../errors.ts'

/**
 * Naming a value an output cannot write: where it is in the item, what it is,
 * and why. Only on the failing path: the formats check their values cheaply
 * and come here to say what they found.
 */

/** A value as a person reads it in a message: `NaN`, `300`, `-1.7`, `12n`, `"abc"`, `a Map`, `undefined`. */
export function describeValue(value: unknown): string {
  switch (typeof value) {
    case 'number':
      return Object.is(value, -0) ? '-0' : String(value)
    case 'bigint':
      return `${value}n (a BigInt)`
    case 'string':
      return value.length > 40
        ? `${JSON.stringify(value.slice(0, 40))}… (a string)`
        : `${JSON.stringify(value)} (a string)`
    case 'undefined':
      return 'undefined'
    case 'boolean':
      return String(value)
    case 'symbol':
      return `${value.toString()} (a symbol)`
    case 'function':
      return value.name ? `a function (${value.name})` : 'a function'
    default: {
      if (value === null) return 'null'
      const name = (value as object).constructor?.name
      return name ? `a${/^[AEIOU]/.test(name) ? 'n' : ''} ${name}` : 'an object without a prototype'
    }
  }
}

/** `meta.size`, `items[3].x`, `meta["a b"]`: a property path as it is written in JavaScript. */
export function joinPath(path: string, key: string | number): string {
  if (typeof key === 'number') return `${path}[${key}]`
  if (/^[A-Za-z_$][\w$]*$/.test(key)) return path ? `${path}.${key}` : key
  return `${path}[${JSON.stringify(key)}]`
}

/** The frames of a stack above the first one that is longhaul's own (`until` matches it): the job's part. */
export function jobFrames(stack: string | undefined, until: RegExp): string | undefined {
  if (!stack) return undefined
  const lines = stack.split('\n')
  const cut = lines.findIndex((line) => until.test(line))
  return (cut < 0 ? lines : lines.slice(0, cut)).join('\n')
}

/** The error for item `index`, whose `field` is `value` (named `shown`, if given): `reason`. */
export function valueError(
  index: number,
  field: string,
  value: unknown,
  reason: string,
  shown?: string,
): ValueNotRepresentableError {
  return new ValueNotRepresentableError(index, field, shown ?? describeValue(value), reason)
}
