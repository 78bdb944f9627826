import { z } from 'zod'
import { UsageError } from '../errors.ts'
import type { MapJob } from './defineJob.ts'

/** Checks raw params against the job's schema and fills its defaults. */
export function resolveParams(job: Pick<MapJob, 'name' | 'params'>, raw: Readonly<Record<string, unknown>>): unknown {
  if (job.params instanceof z.ZodObject) {
    const known = Object.keys(job.params.shape)
    const unknown = Object.keys(raw).filter((key) => !known.includes(key))
    if (unknown.length) {
      throw new UsageError(
        `job '${job.name}' has no param ${unknown.map((k) => `'${k}'`).join(', ')}; its params are: ${known.join(', ') || '(none)'}`,
        'LONGHAUL_PARAMS_INVALID',
      )
    }
  }
  const result = job.params.safeParse(raw)
  if (!result.success) {
    throw new UsageError(
      `params of job '${job.name}' are invalid:\n${z.prettifyError(result.error)}`,
      'LONGHAUL_PARAMS_INVALID',
    )
  }
  return result.data
}

/** Parses `--param key=value` pairs; a value that is valid JSON is taken as JSON, else as a string. */
export function parseParamPairs(pairs: readonly string[], json: string | undefined): Record<string, unknown> {
  let params: Record<string, unknown> = {}
  if (json !== undefined) {
    try {
      const parsed: unknown = JSON.parse(json)
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error('not an object')
      params = { ...(parsed as Record<string, unknown>) }
    } catch (error) {
      throw new UsageError(
        `--params must be a JSON object, e.g. --params '{"frames": 8}' (${(error as Error).message})`,
      )
    }
  }
  for (const pair of pairs) {
    const eq = pair.indexOf('=')
    if (eq <= 0) throw new UsageError(`--param needs key=value, got '${pair}'`)
    const value = pair.slice(eq + 1)
    try {
      params[pair.slice(0, eq)] = JSON.parse(value)
    } catch {
      params[pair.slice(0, eq)] = value
    }
  }
  return params
}
