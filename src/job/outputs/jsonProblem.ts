import { joinPath } from './valueProblem.ts'

/** A value in an item that JSON cannot hold as it is, and where. */
export interface JsonProblem {
  /** A property path: `meta.size`, `scores[3]`; empty for the item itself. */
  readonly path: string
  readonly value: unknown
  /** How to name the value, when not as describeValue does. */
  readonly shown?: string
  readonly reason: string
}

const NULL_IN_ITS_PLACE = 'JSON has no such value (JSON.stringify would write null in its place)'

/**
 * The first value of `record` that `JSON.stringify` would write as something
 * else (NaN and ±Infinity as null, undefined or a function in an array as
 * null, a Map or Set as {}) or cannot write at all (a BigInt, a cycle); it
 * follows JSON.stringify's own steps (toJSON, boxed primitives, own
 * enumerable keys). A property whose value is undefined, a function or a
 * symbol is left out, as JSON.stringify does: there is no such JSON value.
 * Only called when the written text shows a sign of one (`null`, `{}`) or
 * JSON.stringify threw, so it costs nothing on the usual path.
 */
export function findJsonProblem(record: unknown): JsonProblem | undefined {
  // Depth-first in JSON.stringify's order, on a stack of its own: any depth JSON.stringify managed, this manages too.
  const todo: Step[] = [{ input: record, key: '', path: '', place: 'top' }]
  /** The objects enclosing the one being looked at: meeting one again is a cycle. */
  const open = new Set<object>()
  for (let step = todo.pop(); step; step = todo.pop()) {
    if ('leave' in step) {
      open.delete(step.leave)
      continue
    }
    const { key, path, place } = step
    let value = step.input
    if ((typeof value === 'object' && value !== null) || typeof value === 'bigint') {
      const toJSON = (value as { toJSON?: unknown }).toJSON
      if (typeof toJSON === 'function') value = toJSON.call(value, key)
    }
    if (value instanceof Number || value instanceof String || value instanceof Boolean || value instanceof BigInt)
      value = value.valueOf()
    switch (typeof value) {
      case 'number':
        if (Number.isFinite(value)) continue
        return { path, value, reason: NULL_IN_ITS_PLACE }
      case 'bigint':
        return {
          path,
          value,
          reason: 'JSON has no BigInt; return Number(value) if it fits in a double, or String(value)',
        }
      case 'undefined':
      case 'function':
      case 'symbol':
        if (place === 'property') continue
        if (place === 'array') return { path, value, reason: NULL_IN_ITS_PLACE }
        return {
          path,
          value,
          reason:
            'an item of a jsonl output is a JSON value: an object, an array, a string, a number, a boolean or null',
        }
      case 'string':
      case 'boolean':
        continue
    }
    if (value === null) {
      // An invalid Date's toJSON gives null.
      if (step.input instanceof Date)
        return {
          path,
          value: step.input,
          shown: 'an invalid Date',
          reason: 'JSON.stringify would write null in its place',
        }
      continue
    }
    const object = value as object
    if (open.has(object))
      return {
        path,
        value: object,
        shown: 'a reference to an object that contains it',
        reason: 'JSON cannot hold a cycle; return a copy without the back-reference',
      }
    const children: Step[] = []
    if (Array.isArray(object)) {
      for (let i = 0; i < object.length; i++)
        children.push({ input: object[i], key: String(i), path: joinPath(path, i), place: 'array' })
    } else {
      const keys = Object.keys(object)
      if (keys.length === 0 && !isPlain(object)) {
        return {
          path,
          value: object,
          reason:
            'JSON.stringify would write {} in its place, its content lost; convert it (Object.fromEntries(map), [...set], or a plain object)',
        }
      }
      for (const name of keys)
        children.push({
          input: (object as Record<string, unknown>)[name],
          key: name,
          path: joinPath(path, name),
          place: 'property',
        })
    }
    open.add(object)
    todo.push({ leave: object })
    for (let i = children.length - 1; i >= 0; i--) todo.push(children[i]!)
  }
  return undefined
}

type Step =
  | {
      readonly input: unknown
      readonly key: string
      readonly path: string
      readonly place: 'top' | 'array' | 'property'
    }
  | { readonly leave: object }

function isPlain(object: object): boolean {
  const proto = Object.getPrototypeOf(object)
  return proto === Object.prototype || proto === null
}
