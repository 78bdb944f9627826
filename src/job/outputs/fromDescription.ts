import { JournalError } from '../../errors.ts'
import type { OutputFormat } from './format.ts'
import { jsonl } from './jsonl.ts'
import { type NpyDtype, npy } from './npy.ts'

/** Rebuilds an output format from the description kept in the journal, so a run can be read without its job code. */
export function formatFromDescription(description: unknown): OutputFormat {
  const d = description as { kind?: string; fields?: Record<string, NpyDtype> } | null
  if (d?.kind === 'jsonl') return jsonl()
  if (d?.kind === 'npy' && d.fields) return npy(d.fields)
  throw new JournalError(
    `the journal describes an output format this longhaul does not know: ${JSON.stringify(description)}`,
  )
}
