/**
 * Reading a supervised program's tqdm bars: real recordings (made by
 * test/fixtures/tqdm/record.py with Debian's python3-tqdm), the tricky single
 * lines, and any output at all in any split.
 */
import { readFileSync } from 'node:fs'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { parseTqdmLine, TqdmParser, type TqdmProgress } from '../../src/work/exec/tqdm.ts'

function recording(name: string): Buffer {
  return readFileSync(new URL(`../fixtures/tqdm/${name}.txt`, import.meta.url))
}

/** Feeds `chunks` to a fresh parser and ends it; returns the updates and the parser. */
function parse(chunks: readonly (string | Buffer)[]) {
  const updates: TqdmProgress[] = []
  const parser = new TqdmParser((p) => updates.push(p))
  for (const chunk of chunks) parser.push(chunk)
  parser.end()
  return { updates, parser }
}

/** A recording's updates grouped by bar (desc), each bar's in order. */
function bars(name: string) {
  const { updates, parser } = parse([recording(name)])
  const byDesc = new Map<string | null, TqdmProgress[]>()
  for (const update of updates) byDesc.set(update.desc, [...(byDesc.get(update.desc) ?? []), update])
  return { updates, parser, byDesc }
}

/** Splits a bar's updates into runs, a new run starting where done falls back to 0 (an inner bar restarting). */
function runs(updates: readonly TqdmProgress[]): TqdmProgress[][] {
  const result: TqdmProgress[][] = []
  for (const update of updates) {
    const current = result.at(-1)
    if (!current || update.done < current.at(-1)!.done) result.push([update])
    else current.push(update)
  }
  return result
}

/** What every run of a real bar shows: starts at 0 of a fixed total, never goes back, ends at the total, honest rates. */
function expectSaneRun(run: readonly TqdmProgress[], total: number | null) {
  expect(run[0]!.done).toBe(0)
  expect(run[0]!.rate).toBeNull()
  for (const [i, update] of run.entries()) {
    expect(update.total).toBe(total)
    if (i > 0) expect(update.done).toBeGreaterThanOrEqual(run[i - 1]!.done)
    if (i > 0 && update.elapsedSeconds !== null)
      expect(update.elapsedSeconds).toBeGreaterThanOrEqual(run[i - 1]!.elapsedSeconds ?? 0)
    if (total !== null) expect(update.done).toBeLessThanOrEqual(total)
    if (update.rate !== null) expect(update.rate).toBeGreaterThan(0)
  }
}

describe('recordings of real tqdm', () => {
  it('every-line-read: each recording is read line by line with no malformed line', () => {
    for (const name of [
      'simple',
      'nested',
      'unknown-total',
      'bytes-scaled',
      'postfix',
      'desc',
      'ascii',
      'slow',
      'narrow',
    ]) {
      const { updates, parser } = bars(name)
      expect(parser.malformed, name).toBe(0)
      expect(updates.length, name).toBe(parser.lines)
      expect(updates.length, name).toBeGreaterThan(3)
    }
  })

  it('simple-bar: 200 items counted one by one from 0 to 200, in it/s at the pace the sleeps allow', () => {
    const { updates } = bars('simple')
    expectSaneRun(updates, 200)
    expect(new Set(updates.map((u) => u.done)).size).toBe(201)
    expect(updates.at(-1)!.done).toBe(200)
    expect(updates.every((u) => u.unit === 'it' && u.desc === null)).toBe(true)
    // 2 ms sleeps: a few hundred per second at most.
    for (const u of updates.slice(1)) expect(u.rate).toBeGreaterThan(20)
    for (const u of updates.slice(1)) expect(u.rate).toBeLessThan(600)
    expect(updates.at(-1)!.remainingSeconds).toBe(0)
  })

  it('nested-bars: the outer epochs bar and the inner batches bar are told apart by desc; the inner one restarts every epoch', () => {
    const { updates, byDesc } = bars('nested')
    expect([...byDesc.keys()]).toEqual(['epochs', 'batches'])
    // The natural choice of the job's progress: the first bar seen with a total.
    expect(updates.find((u) => u.total !== null)!.desc).toBe('epochs')
    const epochs = byDesc.get('epochs')!
    expectSaneRun(epochs, 3)
    expect(epochs.map((u) => u.done)).toEqual([0, 1, 2, 3, 3])
    const batches = runs(byDesc.get('batches')!)
    expect(batches).toHaveLength(3)
    for (const run of batches) {
      expectSaneRun(run, 40)
      expect(run.at(-1)!.done).toBe(40)
    }
  })

  it('unknown-total: `150it [..]` counts with a null total and no remaining time', () => {
    const { updates } = bars('unknown-total')
    expectSaneRun(updates, null)
    expect(updates.at(-1)!.done).toBe(150)
    expect(updates.every((u) => u.remainingSeconds === null && u.unit === 'it')).toBe(true)
  })

  it('unit-scale: bytes shown as `65.5k/5.00M` and `30.6MB/s` read in bytes, ending at exactly the total', () => {
    const { updates } = bars('bytes-scaled')
    expectSaneRun(updates, 5_000_000)
    expect(updates.at(-1)!.done).toBe(5_000_000)
    expect(updates[1]!.done).toBe(65_500) // 65,536 shown to three significant digits
    expect(updates.every((u) => u.unit === 'B')).toBe(true)
    for (const u of updates.slice(1)) expect(u.rate).toBeGreaterThan(1e6)
    // tqdm shows 100% before the end: the percentage rounds 4.98M/5.00M up.
    expect(updates.filter((u) => u.done < 5_000_000).length).toBeGreaterThan(0)
  })

  it('postfix: `, loss=…` after the rate changes nothing read, and a postfix-only redraw repeats the count', () => {
    const { updates } = bars('postfix')
    expectSaneRun(updates, 100)
    expect(updates.at(-1)!.done).toBe(100)
    // set_postfix redraws before update(1): every count but the last appears twice.
    expect(updates.filter((u) => u.done === 50)).toHaveLength(2)
    expect(updates.slice(2).every((u) => u.rate !== null && u.rate > 20)).toBe(true)
  })

  it('desc-and-unit: `Tokenizing:` is the desc and `doc/s` gives the unit', () => {
    const { updates } = bars('desc')
    expectSaneRun(updates, 120)
    expect(updates.every((u) => u.desc === 'Tokenizing' && u.unit === 'doc')).toBe(true)
    expect(updates.at(-1)!.done).toBe(120)
  })

  it('ascii-bar: a `#123456789` bar reads like a block bar', () => {
    const { updates } = bars('ascii')
    expectSaneRun(updates, 100)
    expect(updates.at(-1)!.done).toBe(100)
  })

  it('inverse-rate: under one item per second tqdm prints `1.20s/it`, read as a rate below 1 per second', () => {
    const { updates } = bars('slow')
    expectSaneRun(updates, 3)
    for (const u of updates.slice(1)) expect(u.rate).toBeCloseTo(1 / 1.2, 1)
    expect(updates.map((u) => u.elapsedSeconds)).toEqual([0, 1, 2, 3, 3])
  })

  it('cut-line: a line cut at a narrow ncols still gives done and total, without the statistics that were cut', () => {
    const { updates } = bars('narrow')
    expectSaneRun(updates, 50)
    expect(updates.at(-1)!.done).toBe(50)
    expect(updates.every((u) => u.desc === 'a rather long description of the work')).toBe(true)
    // Cut at `[00:00<0` or `[00:00<?`: elapsed whole, remaining cut, rate gone.
    expect(updates.every((u) => u.elapsedSeconds === 0 && u.remainingSeconds === null && u.rate === null)).toBe(true)
  })
})

describe('single lines', () => {
  it('unit-scale-counts: `1.23k/10.0k` is 1230 of 10000', () => {
    expect(parseTqdmLine(' 12%|█▏        | 1.23k/10.0k [00:10<01:10, 123it/s]')).toEqual({
      desc: null,
      done: 1230,
      total: 10_000,
      unit: 'it',
      rate: 123,
      elapsedSeconds: 10,
      remainingSeconds: 70,
    })
  })

  it('unit-scale-rate: the SI prefix moves from the unit to the rate (`1.23kit/s`, `12.3MB [..]`)', () => {
    expect(parseTqdmLine(' 12%|█▏        | 1.23k/10.0k [00:10<01:10, 1.23kit/s]')).toMatchObject({
      unit: 'it',
      rate: 1230,
    })
    expect(parseTqdmLine('12.3MB [00:10, 1.23MB/s]')).toMatchObject({
      done: 12_300_000,
      total: null,
      unit: 'B',
      rate: 1_230_000,
    })
  })

  it('plain-prefixed-unit: an unscaled unit that starts like a prefix (`unit="MB"`, `12.30MB/s`) stays as printed', () => {
    expect(parseTqdmLine(' 12%|█▏        | 12/100 [00:01<00:07, 12.30MB/s]')).toMatchObject({
      done: 12,
      total: 100,
      unit: 'MB',
      rate: 12.3,
    })
    expect(parseTqdmLine('450kB [00:10,  4.50kB/s]')).toMatchObject({ done: 450, unit: 'kB', rate: 4.5 })
  })

  it('unknown-rate: `?it/s` and `<?` are null, not 0', () => {
    expect(parseTqdmLine('  0%|          | 0/1000 [00:10<?, ?it/s]')).toEqual({
      desc: null,
      done: 0,
      total: 1000,
      unit: 'it',
      rate: null,
      elapsedSeconds: 10,
      remainingSeconds: null,
    })
  })

  it('inverse-rate: `s/it` means under one unit per second', () => {
    const p = parseTqdmLine('train:  50%|█████     | 5/10 [00:12<00:12,  2.50s/it]')!
    expect(p.rate).toBeCloseTo(0.4, 10)
    expect(p.rate).toBeLessThan(1)
    expect(parseTqdmLine('  1%|          | 1/100 [20:00<33:00:00,  1.20ks/it]')!.rate).toBeCloseTo(1 / 1200, 10)
  })

  it('finished-bar: `100%|██████████| 1000/1000 [00:22<00:00, 44.5it/s]` is done with nothing remaining', () => {
    expect(parseTqdmLine('100%|██████████| 1000/1000 [00:22<00:00, 44.5it/s]')).toEqual({
      desc: null,
      done: 1000,
      total: 1000,
      unit: 'it',
      rate: 44.5,
      elapsedSeconds: 22,
      remainingSeconds: 0,
    })
  })

  it('clock-times: `H:MM:SS` past a day stays hours, `MM:SS` under an hour', () => {
    expect(parseTqdmLine('epoch 3:  30%|███       | 3/10 [1:02:03<26:00:00, 1.23s/it]')).toMatchObject({
      desc: 'epoch 3',
      elapsedSeconds: 3723,
      remainingSeconds: 93_600,
    })
    expect(parseTqdmLine(' 99%|█████████▉| 99/100 [59:59<00:36, 36.4s/it]')).toMatchObject({
      elapsedSeconds: 3599,
      remainingSeconds: 36,
    })
  })

  it('desc-with-colons: the desc is everything before the last `: ` ahead of the percentage', () => {
    expect(
      parseTqdmLine('Epoch 1/3: train:  45%|████▌     | 450/1000 [00:10<00:12, 44.5it/s, loss=0.12]'),
    ).toMatchObject({
      desc: 'Epoch 1/3: train',
      done: 450,
      total: 1000,
    })
  })

  it('no-bar-width: with ncols=0 tqdm drops the bar (`45% 450/1000 [..]`) and the line still reads', () => {
    expect(parseTqdmLine('load:  45% 450/1000 [00:10<00:12, 44.5it/s]')).toMatchObject({
      desc: 'load',
      done: 450,
      total: 1000,
      rate: 44.5,
    })
  })

  it('ansi-stripped: colours and cursor moves around a bar do not hide it', () => {
    expect(parseTqdmLine('\x1b[A\x1b[32m 45%|████▌     | 450/1000\x1b[0m [00:10<00:12, 44.5it/s]\x1b[K')).toMatchObject(
      { done: 450, total: 1000 },
    )
  })

  it('not-a-bar: ordinary text, a bare `1.23k/10.0k`, and a negative or overflowing count are null', () => {
    for (const line of [
      '',
      'Loading model weights...',
      '1.23k/10.0k',
      'see docs | 3/4 [ok]',
      ' 45%|████▌     | -5/1000 [00:10<00:12, 44.5it/s]',
      ` 45%|█| ${'9'.repeat(400)}/1 [00:10<00:12, 44.5it/s]`,
    ])
      expect(parseTqdmLine(line), line).toBeNull()
  })
})

describe('TqdmParser', () => {
  it('line-ends: `\\r`, `\\n` and `\\r\\n` all end a line; blank lines are not counted', () => {
    const { updates, parser } = parse([
      '  0%|          | 0/2 [00:00<?, ?it/s]\r 50%|█████     | 1/2 [00:01<00:01,  1.00s/it]',
      '\r\n\n',
      'done\r\n100%|██████████| 2/2 [00:02<00:00,  1.00s/it]',
    ])
    expect(updates.map((u) => u.done)).toEqual([0, 1, 2])
    expect(parser.lines).toBe(4)
    expect(parser.malformed).toBe(0)
  })

  it('malformed: a bar-shaped line that cannot be read is counted, ordinary text is not', () => {
    const { updates, parser } = parse([
      ' 45%|████▌     | 450/1000 [garbage]\nwarning: disk at 91%\n 45%|████▌     | -5/1000 [00:10<00:12, 44.5it/s]\nusage | 12it/s\n',
    ])
    expect(updates).toEqual([])
    expect(parser.lines).toBe(4)
    expect(parser.malformed).toBe(3)
  })

  it('utf8-split: a character cut between two Buffers reads whole', () => {
    const bytes = Buffer.from('Überprüfung 🚀:  45%|████▌     | 450/1000 [00:10<00:12, 44.5it/s]\n')
    // Inside `Ü`, inside `🚀` and inside a bar block.
    const { updates } = parse([bytes.subarray(0, 1), bytes.subarray(1, 16), bytes.subarray(16, 27), bytes.subarray(27)])
    expect(updates).toHaveLength(1)
    expect(updates[0]).toMatchObject({ desc: 'Überprüfung 🚀', done: 450 })
  })

  it('end-flushes: the last line counts without a line end, once end() is called', () => {
    const updates: TqdmProgress[] = []
    const parser = new TqdmParser((p) => updates.push(p))
    parser.push('100%|██████████| 2/2 [00:02<00:00,  1.00s/it]')
    expect(updates).toHaveLength(0)
    parser.end()
    expect(updates).toHaveLength(1)
  })

  /** Bar lines as tqdm could draw them, with any numbers (huge, fractional, scaled) and any desc. */
  const count = fc.oneof(
    fc.nat().map(String),
    fc.double({ min: 0, max: 1e30, noNaN: true }).map(String),
    fc.constantFrom('1.23k', '65.5k', '5.00M', '999Y', '?'),
  )
  const time = fc.oneof(
    fc.constantFrom('?', '00:00', '59:59', '1:02:03', '123456:00:00'),
    fc.nat(99).map((m) => `${m}:07`),
  )
  const rate = fc.oneof(
    fc.constantFrom('?it/s', ' 1.20s/it', '44.5it/s', '30.6MB/s', '1.00ks/it', '0.00it/s'),
    fc.double({ noNaN: true }).map((r) => `${r}it/s`),
  )
  const barLine = fc
    .tuple(
      fc.oneof(
        fc.constant(''),
        fc.string({ maxLength: 12 }).map((d) => `${d}: `),
      ),
      fc.nat(200),
      fc.string({ maxLength: 10 }),
      count,
      count,
      time,
      time,
      rate,
      fc.constantFrom('', ', loss=0.12', ', x=[1, 2]'),
    )
    .map(
      ([desc, pct, bar, done, total, elapsed, remaining, r, postfix]) =>
        `${desc}${String(pct).padStart(3)}%|${bar}| ${done}/${total} [${elapsed}<${remaining}, ${r}${postfix}]`,
    )

  /** Output mixing real bar lines, pieces of them, control characters, huge numbers and emoji. */
  const output = fc
    .array(
      fc.oneof(
        fc.string({ unit: 'binary', maxLength: 30 }),
        fc.constantFrom(
          '\r',
          '\n',
          '\r\n',
          '\x1b[A',
          '\x1b[2K',
          '\x1b]0;title\x07',
          '\x1b',
          '\x00',
          '\b',
          '\t',
          '%|',
          '|',
          '| ',
          '/',
          ' [',
          '[',
          ']',
          '<',
          ', ',
          ': ',
          '?',
          'it/s',
          's/it',
          '?it/s',
          'B/s',
          'k',
          'M',
          'Y',
          '00:10',
          '1:02:03',
          '99:99',
          '█',
          '▌',
          '#',
          '🚀',
          '👩‍👩‍👧',
          '\u{FFFD}',
          '\uD800',
          '-5',
          '0',
          '1e+400',
          '9'.repeat(400),
          'NaN',
          'Infinity',
          '1.23k/10.0k',
          ' 45%',
          '450it',
          ' 45%|████▌     | 450/1000 [00:10<00:12, 44.5it/s]',
          'Epoch 1: 100%|██████████| 1000/1000 [1:00:22<00:00,  2.50s/it, loss=0.12]',
          '12.3MB [00:10, 1.23MB/s]',
        ),
        barLine,
      ),
      { maxLength: 40 },
    )
    .map((pieces) => pieces.join(''))

  /** Cut points into a text of length n, as a sorted list of positions. */
  const splits = fc.array(fc.nat(), { maxLength: 12 })

  function cut<T extends string | Buffer>(whole: T, at: readonly number[]): T[] {
    const points = [...new Set(at.map((p) => p % (whole.length + 1)))].sort((a, b) => a - b)
    const pieces: T[] = []
    let from = 0
    for (const p of [...points, whole.length]) {
      pieces.push(whole.slice(from, p) as T)
      from = p
    }
    return pieces
  }

  function expectHonest(updates: readonly TqdmProgress[]) {
    for (const u of updates) {
      expect(Number.isFinite(u.done) && u.done >= 0).toBe(true)
      if (u.total !== null) expect(Number.isFinite(u.total) && u.total >= 0).toBe(true)
      if (u.rate !== null) expect(Number.isFinite(u.rate) && u.rate >= 0).toBe(true)
      for (const s of [u.elapsedSeconds, u.remainingSeconds])
        if (s !== null) expect(Number.isFinite(s) && s >= 0).toBe(true)
    }
  }

  it('never-throws: any output in any split, as text or bytes, never throws and never reports a negative, NaN or infinite count', () => {
    fc.assert(
      fc.property(output, splits, fc.boolean(), (text, at, asBytes) => {
        const chunks = asBytes ? cut(Buffer.from(text), at) : cut(text, at)
        const { updates, parser } = parse(chunks)
        expectHonest(updates)
        expect(parser.malformed).toBeLessThanOrEqual(parser.lines)
      }),
      { numRuns: 500 },
    )
  })

  it('never-throws-bytes: arbitrary bytes (invalid UTF-8 too), mixed Buffer and string chunks', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.oneof(
            fc.uint8Array({ maxLength: 64 }).map((b) => Buffer.from(b)),
            fc.string({ unit: 'binary', maxLength: 20 }),
          ),
          { maxLength: 20 },
        ),
        (chunks) => {
          expectHonest(parse(chunks).updates)
        },
      ),
      { numRuns: 300 },
    )
  })

  it('split-independent: how the output is cut into chunks changes nothing read', () => {
    fc.assert(
      fc.property(output, splits, fc.boolean(), (text, at, asBytes) => {
        const whole = parse([asBytes ? Buffer.from(text) : text])
        const pieces = parse(asBytes ? cut(Buffer.from(text), at) : cut(text, at))
        expect(pieces.updates).toEqual(whole.updates)
        expect([pieces.parser.lines, pieces.parser.malformed]).toEqual([whole.parser.lines, whole.parser.malformed])
      }),
      { numRuns: 300 },
    )
  })

  it('split-independent on a real recording: byte by byte reads the same as all at once', () => {
    const bytes = recording('nested')
    const oneByOne = parse([...bytes].map((b) => Buffer.of(b)))
    expect(oneByOne.updates).toEqual(parse([bytes]).updates)
  })
})
