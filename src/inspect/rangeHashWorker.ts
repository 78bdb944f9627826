/** A worker thread of verify's pool (rangeHashes.ts): hashes one range's files and items. */
import { itemHasherReady } from '../job/outputs/itemHash.ts'
import { hashRange, type RangeHashes, type RangeHashTask } from './rangeHashes.ts'

export default async function hashInThread(task: RangeHashTask): Promise<RangeHashes> {
  await itemHasherReady()
  return hashRange(task)
}
