import { describe, expect, it } from 'vitest'
import { OutputTail } from '../../src/work/exec/outputTail.ts'

// The last lines of a supervised program's output, kept for its `program-exited` event: bounded, a redrawn bar as
// what it last showed, colours dropped, however the output was split into chunks.

describe('output tail', () => {
  it('bounded: the newest 50 lines, each at most 400 characters, whatever the program writes', () => {
    const tail = new OutputTail()
    for (let i = 0; i < 1_000; i++) tail.push(Buffer.from(`line ${i} ${'x'.repeat(i % 3 === 1 ? 1_000 : 3)}\n`))
    const lines = tail.tail()
    expect(lines).toHaveLength(50)
    expect(lines.at(-1)).toBe('line 999 xxx')
    expect(Math.max(...lines.map((l) => l.length))).toBe(400)
  })

  it('a bar redrawn with \\r is the last thing it showed; colours dropped; an unfinished line kept; chunks split anywhere', () => {
    const output = 'start\n\x1b[32m 10%\x1b[0m|#\r 50%|##\r100%|###\nlast words, unfinished'
    const whole = new OutputTail()
    whole.push(Buffer.from(output))
    expect(whole.tail()).toEqual(['start', '100%|###', 'last words, unfinished'])
    const pieces = new OutputTail()
    for (const c of output) pieces.push(Buffer.from(c))
    expect(pieces.tail()).toEqual(whole.tail())
  })
})
