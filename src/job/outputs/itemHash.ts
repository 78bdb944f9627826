import { createHash } from 'node:crypto'
import type { IHasher } from 'hash-wasm'
// hash-wasm's sha256 alone: its package entry holds every algorithm's WebAssembly (280 KB), 60–70 ms of CPU to load
// and compile in each thread that hashes items, where this takes about 25 ms.
import sha256 from 'hash-wasm/dist/sha256.umd.min.js'

/**
 * sha256 of one item's bytes. Items are hashed one by one, millions of times,
 * and most are small: hash-wasm's reusable hasher costs a fraction of a
 * node:crypto call for small inputs, while node:crypto is faster on large ones.
 * Both compute the same sha256, so the choice never changes a digest.
 */
const SMALL = 16 * 1024
/**
 * Ready a moment after this module loads (compiling the WebAssembly is asynchronous; a top-level await would keep
 * CommonJS projects from require()-ing longhaul); until then node:crypto hashes every item.
 */
let wasm: IHasher | undefined
sha256.createSHA256().then(
  (hasher) => (wasm = hasher),
  () => undefined,
)

export function itemHash(parts: readonly Uint8Array[]): Uint8Array {
  let size = 0
  for (const part of parts) size += part.length
  if (size < SMALL && wasm) {
    wasm.init()
    for (const part of parts) wasm.update(part)
    return wasm.digest('binary')
  }
  const hash = createHash('sha256')
  for (const part of parts) hash.update(part)
  return hash.digest()
}
