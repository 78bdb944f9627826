import { UsageError } from '../../errors.ts'
import { csvInput } from './csvInput.ts'
import { filesInput } from './filesInput.ts'
import type { InputSource } from './input.ts'
import { jsonlInput } from './jsonlInput.ts'

/**
 * The input an input's description names (`{kind: 'jsonl', path}`, as a Python job's `jsonl_input(path)` declares
 * it): the same reader a TypeScript job's `jsonlInput(path)` gets, so the records, the count and the digest in the
 * fingerprint are the same whichever language declared it.
 */
export function inputFromDescription(description: unknown): InputSource<unknown> {
  const d = description as { kind?: unknown; path?: unknown; pattern?: unknown } | null
  if (d?.kind === 'jsonl' && typeof d.path === 'string') return jsonlInput(d.path)
  if (d?.kind === 'csv' && typeof d.path === 'string') return csvInput(d.path)
  if (
    d?.kind === 'files' &&
    (typeof d.pattern === 'string' || (Array.isArray(d.pattern) && d.pattern.every((p) => typeof p === 'string')))
  )
    return filesInput(d.pattern as string | string[])
  throw new UsageError(
    `an input this longhaul does not know: ${JSON.stringify(description)}; use jsonl_input(path), csv_input(path) or files_input(glob)`,
    'LONGHAUL_JOB_INVALID',
  )
}
