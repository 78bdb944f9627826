/**
 * Shard files are named by their item range, [start, end) zero-padded, so
 * that sorting names sorts items: `000000000000-000000001000.video.npy`.
 */
const DIGITS = 12

export function shardFileName(start: number, end: number, suffix: string): string {
  return `${String(start).padStart(DIGITS, '0')}-${String(end).padStart(DIGITS, '0')}.${suffix}`
}

/** True for names shardFileName makes. */
export function isShardFileName(name: string): boolean {
  return new RegExp(`^\\d{${DIGITS}}-\\d{${DIGITS}}\\.`).test(name)
}

/** The index of shard ranges people and other tools read: data/index.json. */
export const INDEX_FILE = 'index.json'
