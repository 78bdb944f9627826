/** Buffers released and kept for reuse, per thread (module state is per thread): at most this many, of at most this size. */
const SPARE_LIMIT = 4
const SPARE_MAX_BYTES = 4 * 1024 * 1024
const spare: Buffer[] = []

/**
 * A growing byte buffer: one allocation that doubles as needed, instead of a
 * Buffer object per item (which costs ~100 bytes of bookkeeping each and
 * makes a shard of small items weigh many times its size).
 */
export class ByteBuffer {
  private data = spare.pop() ?? Buffer.allocUnsafe(64 * 1024)
  length = 0

  /**
   * Done with: its memory is kept for the next ByteBuffer of this thread. A thread making shard after shard then
   * allocates nothing per shard; otherwise each shard's buffers are garbage that V8 frees only once tens of MB of them
   * have piled up (external memory), in every thread.
   */
  release(): void {
    if (spare.length < SPARE_LIMIT && this.data.length <= SPARE_MAX_BYTES) spare.push(this.data)
    this.data = Buffer.alloc(0)
    this.length = 0
  }

  private reserve(extra: number): void {
    if (this.length + extra <= this.data.length) return
    let size = this.data.length * 2
    while (size < this.length + extra) size *= 2
    const bigger = Buffer.allocUnsafe(size)
    this.data.copy(bigger, 0, 0, this.length)
    this.data = bigger
  }

  /** Appends bytes; returns their [start, end) offsets. */
  append(bytes: Uint8Array): [number, number] {
    this.reserve(bytes.length)
    this.data.set(bytes, this.length)
    const start = this.length
    this.length += bytes.length
    return [start, this.length]
  }

  /**
   * Appends a string as UTF-8 and a newline; returns where the string's bytes end (the newline's offset). One call an
   * item of a text format, with nothing allocated.
   */
  appendLine(text: string): number {
    this.reserve(text.length * 3 + 1) // UTF-8 takes at most 3 bytes per UTF-16 unit
    const end = this.length + this.data.write(text, this.length)
    this.data[end] = 0x0a
    this.length = end + 1
    return end
  }

  /** Appends one byte. */
  appendByte(byte: number): void {
    this.reserve(1)
    this.data[this.length++] = byte
  }

  /** Bytes [start, end) as a plain Uint8Array over the same memory (cheaper to make than a Buffer view). */
  view(start: number, end: number): Uint8Array {
    return new Uint8Array(this.data.buffer, this.data.byteOffset + start, end - start)
  }

  /** The bytes written so far (a view, not a copy). */
  bytes(): Buffer {
    return this.data.subarray(0, this.length)
  }
}
