import { mkdirSync, rmSync, utimesSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { CheckpointFinder, SETTLE_MS } from '../../src/work/exec/checkpoints.ts'
import { resumeArgs } from '../../src/work/exec/program.ts'
import { EventLineReader, type ExecEvent, MAX_EVENT_LINE, parseEventLine } from '../../src/work/exec/protocol.ts'
import { tempDir } from '../support/cli.ts'

describe('the JSON-lines protocol', () => {
  it('reads the four event types, with optional fields defaulted', () => {
    expect(parseEventLine('{"type":"progress","done":450,"total":1000}')).toEqual({
      type: 'progress',
      done: 450,
      total: 1000,
    })
    expect(parseEventLine('{"type":"progress","done":3}')).toEqual({ type: 'progress', done: 3, total: null })
    expect(parseEventLine('{"type":"checkpoint","path":"c/e-12.npz","step":12}')).toEqual({
      type: 'checkpoint',
      path: 'c/e-12.npz',
      step: 12,
    })
    expect(parseEventLine('{"type":"metric","name":"loss","value":null}')).toEqual({
      type: 'metric',
      name: 'loss',
      value: null,
      step: null,
    })
    expect(parseEventLine('{"type":"log","message":"hi"}')).toEqual({ type: 'log', level: 'info', message: 'hi' })
  })

  it('malformed-lines: anything else is malformed, never an exception', () => {
    for (const line of [
      '',
      'progress 3',
      '{"type":"progress"}',
      '{"type":"progress","done":-1}',
      '{"type":"progress","done":"3"}',
      '{"type":"what"}',
      '[1]',
      '{"type":"checkpoint","path":""}',
      '{',
      '{"type":"progress","done":5,"total":0}',
      '{"type":"progress","done":50,"total":10}',
      '{"type":"progress","done":1e300}',
      '{"type":"progress","done":5,"unit":"ep\\nFAKE LINE"}',
      '{"type":"progress","done":5,"unit":"\\u001b[2J"}',
    ]) {
      expect(parseEventLine(line), line).toBeUndefined()
    }
    fc.assert(
      fc.property(
        fc.array(fc.oneof(fc.string(), fc.json(), fc.constantFrom('\n', '\r\n', '{"type":"progress","done":1}\n')), {
          maxLength: 30,
        }),
        (chunks) => {
          const events: ExecEvent[] = []
          const reader = new EventLineReader((event) => events.push(event))
          for (const chunk of chunks) reader.push(chunk)
          reader.end()
          for (const event of events) expect(['progress', 'checkpoint', 'metric', 'log']).toContain(event.type)
        },
      ),
      { numRuns: 500 },
    )
  })

  it('malformed-lines: a runaway line is dropped as it arrives, not buffered, and the next line is read', () => {
    const events: ExecEvent[] = []
    const reader = new EventLineReader((event) => events.push(event))
    for (let i = 0; i < 10; i++) reader.push('x'.repeat(MAX_EVENT_LINE / 4))
    reader.push('\n{"type":"progress","done":7}\n')
    reader.end()
    expect(reader.malformed).toBe(1)
    expect(events).toEqual([{ type: 'progress', done: 7, total: null }])
  })
})

describe('checkpoint discovery', () => {
  const folder = (): string => {
    const dir = join(tempDir(), 'ckpt')
    mkdirSync(dir)
    return dir
  }
  const file = (dir: string, name: string, mtimeMs: number): string => {
    const path = join(dir, name)
    writeFileSync(path, name)
    utimesSync(path, mtimeMs / 1000, mtimeMs / 1000)
    return path
  }

  it('growing-file-not-taken: the newest settled file wins; one modified within the settle time is still being written', () => {
    const dir = folder()
    const now = Date.now()
    const old = file(dir, 'a.ckpt', now - 60_000)
    const settled = file(dir, 'b.ckpt', now - SETTLE_MS - 500)
    file(dir, 'c.ckpt', now - 100)
    file(dir, 'other.txt', now - 30_000)
    const finder = new CheckpointFinder('*.ckpt', dir)
    expect(finder.newest(now)?.path).toBe(settled)
    // Judged at an earlier moment (the program's death), b was still fresh: a is the one to resume from.
    expect(finder.newest(now - SETTLE_MS)?.path).toBe(old)
  })

  it('protocol-wins: an announced checkpoint is taken over a newer glob match, until its file is gone', () => {
    const dir = folder()
    const now = Date.now()
    const announced = file(dir, 'a.ckpt', now - 60_000)
    const newer = file(dir, 'b.ckpt', now - 30_000)
    const finder = new CheckpointFinder('*.ckpt', dir)
    expect(finder.announce('a.ckpt', 3)).toMatchObject({ path: announced, step: 3, source: 'protocol' })
    expect(finder.newest(now)?.path).toBe(announced)
    rmSync(announced)
    expect(finder.newest(now)).toMatchObject({ path: newer, source: 'glob' })
    expect(finder.announce('missing.ckpt', 4)).toBeUndefined()
  })

  it('resume template: {checkpoint} is replaced inside each word, so a path with spaces stays one argument', () => {
    expect(resumeArgs('--resume {checkpoint}', '/tmp/my run/e 5.npz')).toEqual(['--resume', '/tmp/my run/e 5.npz'])
    expect(resumeArgs('--ckpt={checkpoint} --warm', '/c.pt')).toEqual(['--ckpt=/c.pt', '--warm'])
  })
})
