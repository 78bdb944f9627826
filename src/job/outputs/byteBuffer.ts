/**
 * A growing byte buffer: one allocation that doubles as needed, instead of a
 * Buffer object per item (which costs ~100 bytes of bookkeeping each and
 * makes a shard of small items weigh many times its size).
 */
export class ByteBuffer {
  private data = Buffer.allocUnsafe(64 * 1024)
  length = 0

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

  /** Appends a string as UTF-8; returns its [start, end) offsets. */
  appendText(text: string): [number, number] {
    this.reserve(text.length * 3) // UTF-8 takes at most 3 bytes per UTF-16 unit
    const start = this.length
    this.length += this.data.write(text, this.length)
    return [start, this.length]
  }

  /** Appends one byte. */
  appendByte(byte: number): void {
    this.reserve(1)
    this.data[this.length++] = byte
  }

  view(start: number, end: number): Buffer {
    return this.data.subarray(start, end)
  }

  /** The bytes written so far (a view, not a copy). */
  bytes(): Buffer {
    return this.data.subarray(0, this.length)
  }
}
