import { createHash } from 'node:crypto'
import type { Store } from '../journal/store.ts'

/**
 * The dataset digest from the journal: sha256 over every item's hash in index
 * order. It does not depend on chunking, worker count, machines or crashes.
 */
export async function journalDigest(store: Store): Promise<string> {
  const digest = createHash('sha256')
  for await (const range of store.rangesWithHashes()) digest.update(range.itemHashes)
  return digest.digest('hex')
}
