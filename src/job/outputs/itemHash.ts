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
const ready: Promise<void> = sha256.createSHA256().then(
  (hasher) => {
    wasm = hasher
  },
  () => undefined,
)

/**
 * Resolves once items are hashed by the WebAssembly hasher (or it failed to load, and node:crypto hashes them).
 * Code that hashes millions of items without ever yielding to the event loop (a synchronous read, then a loop)
 * awaits it first: the compilation only finishes in a later task, so such a loop would otherwise hash every item
 * through node:crypto, about 3× the CPU per small item.
 */
export function itemHasherReady(): Promise<void> {
  return ready
}

/** sha256 of an item held in one piece (a line of text): itemHash([bytes]) without the array. */
export function itemHashOf(bytes: Uint8Array): Uint8Array {
  if (bytes.length < SMALL && wasm) {
    wasm.init()
    wasm.update(bytes)
    return wasm.digest('binary')
  }
  return createHash('sha256').update(bytes).digest()
}

export function itemHash(parts: readonly Uint8Array[]): Uint8Array {
  if (parts.length === 1) return itemHashOf(parts[0]!)
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
