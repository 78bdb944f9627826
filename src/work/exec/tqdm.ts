/**
 * Progress read from the tqdm bars a supervised program already prints, so
 * that `longhaul exec` can follow it with no change to the program.
 *
 * tqdm redraws a bar by writing `\r` and the whole line again, padded with
 * spaces to the previous line's width:
 *
 *     desc:  45%|████▌     | 450/1000 [00:10<00:12, 44.5it/s, loss=0.12]
 *     desc: 450it [00:10, 44.5it/s]                  (total unknown)
 *      45% 450/1000 [00:10<00:12, 44.5it/s]          (ncols=0: no bar)
 *
 * Bars at `position=n` are drawn n lines below after `\n`×n and moved back up
 * with `ESC[A`; every line still starts with `\r`, so splitting on `\r` and
 * `\n` and dropping ANSI escapes gives one bar per line. A fixed `ncols`
 * narrower than the line cuts it at the right edge: the count is still read
 * as long as `done/total [` survived, and only the statistics that end before
 * the cut are kept.
 *
 * Numbers are read as tqdm formats them. With `unit_scale` they carry an SI
 * prefix (`1.23k`, `65.5k/5.00M`, `30.6MB/s`) and three significant digits,
 * so `done` is exact only to that precision; prefixes are read as powers of
 * 1000 (tqdm's default `unit_divisor`; with `unit_divisor=1024` done and
 * total both read a little low, their ratio stays right). Below one unit per
 * second tqdm prints the inverse (`1.20s/it`); `rate` is always units per
 * second.
 *
 * Which bar is the job's progress is the caller's choice: every update is
 * reported with its `desc`. With several bars (epochs × batches), the
 * outermost bar with a total, i.e. the first one seen with a total, is the
 * natural choice; inner bars restart from 0 for every outer step.
 */

export interface TqdmProgress {
  /** The bar's description (tqdm's `desc`), null when it has none. */
  readonly desc: string | null
  /** Units done, finite and never negative. */
  readonly done: number
  /** Units in all, null when tqdm does not know it. */
  readonly total: number | null
  /** The unit tqdm counts in (`it`, `B`, `doc`…); `it` (tqdm's default) when the line does not show it. */
  readonly unit: string
  /** Units per second as tqdm shows it (smoothed), null while `?` or not shown. */
  readonly rate: number | null
  readonly elapsedSeconds: number | null
  readonly remainingSeconds: number | null
}

/** Lines longer than this are read from their last MAX_LINE characters (a bar is a terminal line wide). */
const MAX_LINE = 4_096

const SI: Readonly<Record<string, number>> = { k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18, Z: 1e21, Y: 1e24 }
const NUMBER = String.raw`\d+(?:\.\d+)?(?:e[+-]?\d+)?`
const COUNT = String.raw`(${NUMBER})([kMGTPEZY]?)`
const TIME = String.raw`\d+:\d{2}(?::\d{2})?`

/** tqdm's default layout: `desc: ` (optional), the percentage, the bar (absent with ncols=0), `done/total [`. */
const WITH_TOTAL = new RegExp(String.raw`^(?:(.*?): ?)?\s*\d+%(?:\|[^|]*\|)? ${COUNT}\/(?:${COUNT}|\?) \[(.*)$`, 's')
/** A custom `bar_format` that still shows `done/total [elapsed…`: the first such place on the line. */
const BARE_TOTAL = new RegExp(String.raw`(?:^|[\s|])${COUNT}\/(?:${COUNT}|\?) \[(?=\d+:\d)`, 'g')
/** The total unknown: `desc: 450it [00:10, 44.5it/s]`. */
const NO_TOTAL = new RegExp(String.raw`^(?:(.*?): )?(${NUMBER})([^\s[\]]*) \[(?=\d+:\d)(.*)$`, 's')
/** A time is whole only when its delimiter follows (a cut `1:02:0` must not read as 1:02). */
const ELAPSED = new RegExp(String.raw`^(${TIME})(?=[<,])`)
const REMAINING = new RegExp(String.raw`^<(${TIME}|\?)(?=,)`)
const FORWARD_RATE = new RegExp(String.raw`^(\s*${NUMBER}|\?)(.*)\/s$`)
const INVERSE_RATE = new RegExp(String.raw`^(\s*${NUMBER}|\?)([kMGTPEZY]?)s\/(.+)$`)

/** Something bar-shaped: a `|` with a percentage, a rate, or `done/total [`. */
const BAR_LIKE = [/\d%\|/, /[\d?][^\s\d|]*\/s\b/, /\ds\/\S/, /\d\/[\d?]\S* \[/]

// CSI (cursor moves, colours), OSC (titles, links), other two-byte escapes, then any control character left.
const ANSI = /\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[ -/]*[0-~]?|[\x00-\x08\x0b-\x1f\x7f\x9b]/g

/** Parses one line (no \r/\n); null when it is not a progress bar. */
export function parseTqdmLine(line: string): TqdmProgress | null {
  try {
    return parseLine(line)
  } catch {
    return null
  }
}

/**
 * Feeds raw output chunks (any split; `\r` and `\n` end lines; ANSI escapes
 * dropped) and calls `onProgress` for every bar update parsed, in order. A
 * bar redrawn unchanged (tqdm's final redraw on close) is reported again.
 * Never throws, whatever the input; an error thrown by `onProgress` is the
 * caller's and propagates.
 */
export class TqdmParser {
  private partial = ''
  private decoder: TextDecoder | null = null
  private malformedLines = 0
  private seenLines = 0

  constructor(private readonly onProgress: (p: TqdmProgress) => void) {}

  /** Lines with text on them (blank lines and a bare `\r\n` do not count). */
  get lines(): number {
    return this.seenLines
  }

  /** Lines that look like a bar (`|` with a percentage, a rate or `done/total [`) but could not be read. */
  get malformed(): number {
    return this.malformedLines
  }

  push(chunk: string | Buffer): void {
    let text: string
    try {
      text = typeof chunk === 'string' ? this.flushBytes() + chunk : this.decode(chunk)
    } catch {
      return
    }
    this.feed(text, false)
  }

  /** The output ended: the last line counts even without a line end. */
  end(): void {
    let rest = ''
    try {
      rest = this.flushBytes()
    } catch {
      // A decoder that cannot flush has nothing to give.
    }
    this.feed(rest, true)
  }

  private decode(chunk: Uint8Array): string {
    if (!(chunk instanceof Uint8Array)) return String(chunk)
    this.decoder ??= new TextDecoder('utf-8')
    return this.decoder.decode(chunk, { stream: true })
  }

  /** Bytes of a character cut at the end of the last Buffer (as U+FFFD when a string follows). */
  private flushBytes(): string {
    return this.decoder ? this.decoder.decode() : ''
  }

  private feed(text: string, last: boolean): void {
    const pieces = (this.partial + text).split(/[\r\n]/)
    // Keep the unfinished line (its tail only, so memory stays bounded) before reporting anything.
    this.partial = last ? '' : pieces.pop()!.slice(-2 * MAX_LINE)
    for (const piece of pieces) this.line(piece)
  }

  private line(raw: string): void {
    // The same tail as an unfinished line keeps, so that how the output was split never matters.
    const text = raw
      .slice(-2 * MAX_LINE)
      .replace(ANSI, '')
      .trimEnd()
    if (text.trim() === '') return
    this.seenLines++
    const progress = parseTqdmLine(text)
    if (progress) this.onProgress(progress)
    else if (looksLikeBar(text)) this.malformedLines++
  }
}

function looksLikeBar(line: string): boolean {
  return line.includes('|') && BAR_LIKE.some((pattern) => pattern.test(line))
}

function parseLine(input: string): TqdmProgress | null {
  const line = input.replace(ANSI, '').trimEnd().slice(-MAX_LINE)
  return withTotal(line) ?? bareTotal(line) ?? noTotal(line)
}

function withTotal(line: string): TqdmProgress | null {
  const m = WITH_TOTAL.exec(line)
  if (!m) return null
  const [, desc, doneNumber, donePrefix, totalNumber, totalPrefix, after] = m
  // The percentage and bar say it is a bar: a line cut anywhere in the statistics is still read.
  return fromParts(
    desc,
    [doneNumber!, donePrefix!],
    totalNumber === undefined ? null : [totalNumber, totalPrefix!],
    stats(after!, true),
  )
}

function bareTotal(line: string): TqdmProgress | null {
  for (const m of line.matchAll(BARE_TOTAL)) {
    const [whole, doneNumber, donePrefix, totalNumber, totalPrefix] = m
    const found = stats(line.slice(m.index + whole.length), true)
    if (!found || found.elapsed === null) continue
    const desc = line.slice(0, m.index).replace(/[\s:|]+$/, '')
    return fromParts(
      desc,
      [doneNumber!, donePrefix!],
      totalNumber === undefined ? null : [totalNumber, totalPrefix!],
      found,
    )
  }
  return null
}

function noTotal(line: string): TqdmProgress | null {
  const m = NO_TOTAL.exec(line)
  if (!m) return null
  const [, desc, doneNumber, counted, after] = m
  const found = stats(after!, false)
  if (!found || found.elapsed === null) return null
  // The count carries the unit, and with unit_scale its SI prefix before it: `1.23kB`.
  const { prefix, unit } = splitUnit(counted!, isScaled(found.rate, [doneNumber!]))
  return fromParts(desc, [doneNumber!, prefix], null, found, unit)
}

interface Rate {
  /** The number as printed, tqdm's padding kept (it tells `unit_scale` apart); null for `?` and inverse rates. */
  readonly printed: string | null
  /** Per second, before the SI prefix that a scaled unit may still carry. */
  readonly perSecond: number | null
  /** As printed: with unit_scale it may begin with the number's SI prefix (`MB` for 30.6 MB/s). */
  readonly unit: string
  /** `s/it`: the number was already the whole value, the unit has no prefix. */
  readonly inverse: boolean
}

interface Stats {
  readonly elapsed: number | null
  readonly remaining: number | null
  readonly rate: Rate | null
}

/**
 * Reads `elapsed<remaining, rate, postfix]` (the part after `[`). With the
 * closing `]` missing the line was cut: a field counts only if what follows
 * it shows it was not cut. Null when the text is not statistics at all.
 */
function stats(text: string, remainingShown: boolean): Stats | null {
  const closed = /\]\s*$/.test(text)
  const body = closed ? text.replace(/\]\s*$/, '') : text
  const cut = (elapsed: number | null, remaining: number | null): Stats | null =>
    closed ? null : { elapsed, remaining, rate: null }
  const elapsedMatch = ELAPSED.exec(body)
  if (!elapsedMatch) return /^[\d:]*$/.test(body) ? cut(null, null) : null
  const elapsed = seconds(elapsedMatch[1]!)
  let rest = body.slice(elapsedMatch[0].length)
  let remaining: number | null = null
  if (rest.startsWith('<')) {
    if (!remainingShown) return null
    const m = REMAINING.exec(rest)
    if (!m) return cut(elapsed, null)
    remaining = m[1] === '?' ? null : seconds(m[1]!)
    rest = rest.slice(m[0].length)
  }
  if (!rest.startsWith(',')) return cut(elapsed, remaining)
  // The rate runs to the next comma (a postfix follows) or to the end; `/s` cannot be cut short.
  const comma = rest.indexOf(',', 1)
  const token = (comma < 0 ? rest.slice(1) : rest.slice(1, comma)).replace(/^ /, '')
  if (comma < 0 && !closed && !token.endsWith('/s')) return cut(elapsed, remaining)
  const rate = readRate(token)
  return rate ? { elapsed, remaining, rate } : cut(elapsed, remaining)
}

/** `44.5it/s`, `?it/s`, `30.6MB/s`, ` 1.20s/it`, `1.00ks/it`. */
function readRate(token: string): Rate | null {
  const forward = FORWARD_RATE.exec(token)
  if (forward) {
    const [, printed, unit] = forward
    if (printed === '?') return { printed: null, perSecond: null, unit: unit!, inverse: false }
    return { printed: printed!, perSecond: Number(printed), unit: unit!, inverse: false }
  }
  const inverse = INVERSE_RATE.exec(token)
  if (!inverse) return null
  const [, printed, prefix, unit] = inverse
  const secondsPerUnit = printed === '?' ? 0 : Number(printed) * (SI[prefix!] ?? 1)
  return { printed: null, perSecond: secondsPerUnit > 0 ? 1 / secondsPerUnit : null, unit: unit!, inverse: true }
}

/**
 * Whether tqdm was given `unit_scale`. Its scaled numbers have three
 * significant digits and no padding (`1.23`, `12.3`, `123`, `65.5k`); its
 * plain rates two decimals padded to five (` 4.45`, `44.50`); its plain counts
 * are integers. The rate decides when shown, then an SI suffix or a short
 * decimal on a count.
 */
function isScaled(rate: Rate | null, counts: readonly string[]): boolean {
  const printed = rate?.printed
  if (printed != null) {
    if (/^(?:\d\.\d\d|\d\d\.\d|\d{1,3})$/.test(printed)) return true
    if (/^\s*\d+\.\d\d$/.test(printed)) return false
  }
  return counts.some((count) => /[kMGTPEZY]$|^\d{1,2}\.\d{1,2}$/.test(count))
}

/** A scaled unit begins with its number's SI prefix (`kB`: k, B); a plain unit is as printed. */
function splitUnit(printed: string, scaled: boolean): { prefix: string; unit: string } {
  const first = printed.charAt(0)
  if (scaled && printed.length > 1 && first in SI) return { prefix: first, unit: printed.slice(1) }
  return { prefix: '', unit: printed }
}

/** `countedUnit`: the unit as the count showed it (total unknown); otherwise the rate's. */
function fromParts(
  desc: string | undefined,
  done: readonly [string, string],
  total: readonly [string, string] | null,
  found: Stats | null,
  countedUnit?: string,
): TqdmProgress | null {
  if (!found) return null
  const doneValue = scaledNumber(done)
  const totalValue = total && scaledNumber(total)
  if (doneValue === null || (total && totalValue === null)) return null
  let unit = countedUnit ?? 'it'
  let rate: number | null = null
  if (found.rate) {
    const scaled = !found.rate.inverse && isScaled(found.rate, [done.join(''), ...(total ? [total.join('')] : [])])
    const split = splitUnit(found.rate.unit, scaled)
    unit = countedUnit ?? split.unit
    const perSecond = found.rate.perSecond === null ? null : found.rate.perSecond * (SI[split.prefix] ?? 1)
    rate = perSecond !== null && Number.isFinite(perSecond) ? perSecond : null
  }
  return {
    desc: desc === undefined || desc === '' ? null : desc,
    done: doneValue,
    total: totalValue,
    unit,
    rate,
    elapsedSeconds: found.elapsed,
    remainingSeconds: found.remaining,
  }
}

function scaledNumber([number, prefix]: readonly [string, string]): number | null {
  const value = Number(number) * (SI[prefix] ?? 1)
  return Number.isFinite(value) && value >= 0 ? value : null
}

/** `MM:SS` or `H:MM:SS` (hours past 24 stay hours). */
function seconds(time: string): number {
  return time.split(':').reduce((sum, part) => sum * 60 + Number(part), 0)
}
