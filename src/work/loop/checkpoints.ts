/**
 * The checkpoint store of a loop job: whole states, one file each, in the
 * run's data/ folder, beside `final.bin`.
 *
 * A checkpoint is self-verifying: its file carries its own step, metrics,
 * length and checksums, so the file alone says whether it is whole.
 *
 *   offset  bytes  field
 *   0       8      magic "LHCKPT\0\x01" (format 1)
 *   8       4      H, the header's length, u32 little-endian
 *   12      32     sha256 of the header's H bytes
 *   44      H      header, UTF-8 JSON: job, fingerprint, step, metrics, payloadBytes, payloadSha256, savedAt
 *   44+H    …      payload: save(state), payloadBytes bytes whose sha256 is payloadSha256
 *
 * Why in the file rather than in a journal row: the file (written to a temp
 * name, fsynced, renamed, folder fsynced) and the journal cannot change in one
 * atomic step. A checksum kept only in the journal leaves a window, after the
 * rename and before the journal commit, where a whole checkpoint has no record,
 * and a copied or restored file can never be checked on its own. With the
 * header in the file, resume needs only the folder: the newest file that
 * verifies is a state some uninterrupted run also had at that step. The
 * journal's `checkpoint` event is the history (and what progress counts), not
 * the arbiter. The header's own sha256 guards the step and metrics, so a
 * flipped bit there cannot pass a state off as another step's.
 */
import { createHash } from 'node:crypto'
import { closeSync, fstatSync, mkdirSync, openSync, readdirSync, readSync, renameSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { NotDurableError } from '../../errors.ts'
import { fsyncDir, TEMP_PREFIX, type WrittenFile, writeFileAtomic } from '../../files/atomicFile.ts'
import type { LoopBest } from '../../job/defineLoop.ts'

const MAGIC = Buffer.from('LHCKPT\0\x01', 'latin1')
const PRELUDE_BYTES = MAGIC.length + 4 + 32
/** A header is a few hundred bytes; anything far larger is not one. */
const MAX_HEADER_BYTES = 1 << 20
const DIGITS = 12
const NAME = new RegExp(`^step-(\\d{${DIGITS},})\\.ckpt$`)

/** The final state, save(state) after the last step, as plain bytes. */
export const FINAL_FILE = 'final.bin'

/** `step-000000000200.ckpt`: the state after 200 steps. Sorting names sorts steps. */
export function checkpointName(step: number): string {
  return `step-${String(step).padStart(DIGITS, '0')}.ckpt`
}

function stepOfName(name: string): number | undefined {
  const match = NAME.exec(name)
  return match ? Number(match[1]) : undefined
}

/** Metrics as recorded: a value that is not a finite number (a diverged loss) is kept as null. */
export type RecordedMetrics = Readonly<Record<string, number | null>>

export interface CheckpointHeader {
  readonly job: string
  /** The fingerprint of the run that wrote it: a checkpoint of another job is never loaded. */
  readonly fingerprint: string
  /** Steps done: the state after step `step - 1`. */
  readonly step: number
  readonly metrics: RecordedMetrics
  readonly payloadBytes: number
  readonly payloadSha256: string
  /** ISO 8601 UTC. */
  readonly savedAt: string
}

/** A checkpoint on disk, as its header says. */
export interface CheckpointInfo extends CheckpointHeader {
  readonly file: string
  /** The whole file's size and sha256. */
  readonly bytes: number
  readonly sha256: string
}

/** What a checkpoint must say to be this run's at this step. */
export interface CheckpointExpectation {
  readonly fingerprint: string
}

/** The file's bytes: prelude, header, payload. */
export function encodeCheckpoint(
  header: Omit<CheckpointHeader, 'payloadBytes' | 'payloadSha256'>,
  payload: Uint8Array,
): Buffer[] {
  const full: CheckpointHeader = {
    ...header,
    payloadBytes: payload.byteLength,
    payloadSha256: createHash('sha256').update(payload).digest('hex'),
  }
  const headerBytes = Buffer.from(JSON.stringify(full), 'utf8')
  const prelude = Buffer.alloc(PRELUDE_BYTES)
  MAGIC.copy(prelude, 0)
  prelude.writeUInt32LE(headerBytes.length, MAGIC.length)
  createHash('sha256')
    .update(headerBytes)
    .digest()
    .copy(prelude, MAGIC.length + 4)
  return [prelude, headerBytes, Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength)]
}

/**
 * Writes a checkpoint durably: temp file, write, fsync, rename, fsync the
 * folder. When it returns the checkpoint survives a crash or a power cut;
 * any failure throws NotDurableError and nothing may count it.
 */
export function writeCheckpoint(
  dir: string,
  header: Omit<CheckpointHeader, 'payloadBytes' | 'payloadSha256'>,
  payload: Uint8Array,
): CheckpointInfo {
  const chunks = encodeCheckpoint(header, payload)
  const written = writeFileAtomic(dir, checkpointName(header.step), chunks)
  fsyncDir(dir)
  return {
    ...(JSON.parse(chunks[1]!.toString('utf8')) as CheckpointHeader),
    file: written.name,
    bytes: written.bytes,
    sha256: written.sha256,
  }
}

/** final.bin: the final state's bytes, written durably like a checkpoint; its sha256 is the run's digest. */
export function writeFinal(dir: string, payload: Uint8Array): WrittenFile {
  const written = writeFileAtomic(dir, FINAL_FILE, [
    Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength),
  ])
  fsyncDir(dir)
  return written
}

/** The header, when it is good; else why the checkpoint cannot be trusted. */
function checkHeader(
  name: string,
  prelude: Buffer,
  headerBytes: Buffer,
  fileBytes: number,
  expect: CheckpointExpectation,
): CheckpointHeader | string {
  if (!prelude.subarray(0, MAGIC.length).equals(MAGIC)) return 'it does not start with a longhaul checkpoint header'
  if (
    !createHash('sha256')
      .update(headerBytes)
      .digest()
      .equals(prelude.subarray(MAGIC.length + 4, PRELUDE_BYTES))
  ) {
    return 'its header fails its checksum'
  }
  let header: CheckpointHeader
  try {
    header = JSON.parse(headerBytes.toString('utf8')) as CheckpointHeader
  } catch {
    return 'its header is not valid JSON'
  }
  if (header.step !== stepOfName(name)) return `its header says step ${header.step}`
  if (header.fingerprint !== expect.fingerprint)
    return `it was written by another job (fingerprint ${String(header.fingerprint).slice(0, 12)}…)`
  const expected = PRELUDE_BYTES + headerBytes.length + header.payloadBytes
  if (fileBytes !== expected)
    return `it holds ${fileBytes} bytes where its header says ${expected} (${fileBytes < expected ? 'truncated' : 'extra bytes'})`
  return header
}

function readPrelude(fd: number, size: number): { prelude: Buffer; headerBytes: Buffer } | string {
  if (size < PRELUDE_BYTES) return `it holds only ${size} bytes (truncated)`
  const prelude = Buffer.alloc(PRELUDE_BYTES)
  readSync(fd, prelude, 0, PRELUDE_BYTES, 0)
  const headerLength = prelude.readUInt32LE(MAGIC.length)
  if (headerLength > MAX_HEADER_BYTES || PRELUDE_BYTES + headerLength > size)
    return 'its header is cut short (truncated)'
  const headerBytes = Buffer.alloc(headerLength)
  readSync(fd, headerBytes, 0, headerLength, PRELUDE_BYTES)
  return { prelude, headerBytes }
}

/** Reads and checks a checkpoint's header and size (not its payload): cheap, for listing and pruning. */
export function readCheckpointHeader(
  dir: string,
  name: string,
  expect: CheckpointExpectation,
): CheckpointHeader | { corrupt: string } {
  const fd = openSync(join(dir, name), 'r')
  try {
    const read = readCheckedHeader(fd, name, expect)
    return typeof read === 'string' ? { corrupt: read } : read.header
  } finally {
    closeSync(fd)
  }
}

/** The prelude and header of an open checkpoint, checked against its size and name; the reason when they fail. */
function readCheckedHeader(
  fd: number,
  name: string,
  expect: CheckpointExpectation,
): { header: CheckpointHeader; prelude: Buffer; headerBytes: Buffer; size: number } | string {
  const size = fstatSync(fd).size
  const read = readPrelude(fd, size)
  if (typeof read === 'string') return read
  const header = checkHeader(name, read.prelude, read.headerBytes, size, expect)
  return typeof header === 'string' ? header : { header, ...read, size }
}

/**
 * Reads a whole checkpoint and checks everything: header, size, and the
 * payload's sha256. The payload gets an ArrayBuffer of its own, exactly its
 * size: `load(bytes)` may view `bytes.buffer` whole and aligned, and it can
 * be transferred to another thread without copying.
 */
export function readCheckpoint(
  dir: string,
  name: string,
  expect: CheckpointExpectation,
): { info: CheckpointInfo; payload: Uint8Array<ArrayBuffer> } | { corrupt: string } {
  const fd = openSync(join(dir, name), 'r')
  try {
    const read = readCheckedHeader(fd, name, expect)
    if (typeof read === 'string') return { corrupt: read }
    const { header, size } = read
    const payload = new Uint8Array(header.payloadBytes)
    for (let done = 0; done < payload.length; ) {
      const count = readSync(fd, payload, done, payload.length - done, PRELUDE_BYTES + read.headerBytes.length + done)
      if (count === 0) return { corrupt: 'it ended while being read (truncated)' }
      done += count
    }
    if (createHash('sha256').update(payload).digest('hex') !== header.payloadSha256)
      return { corrupt: 'its state fails its sha256' }
    const sha256 = createHash('sha256').update(read.prelude).update(read.headerBytes).update(payload).digest('hex')
    return { info: { ...header, file: name, bytes: size, sha256 }, payload }
  } finally {
    closeSync(fd)
  }
}

/** The checkpoint files in `dir`, oldest step first (names only; nothing is read). */
export function listCheckpoints(dir: string): { file: string; step: number }[] {
  const found: { file: string; step: number }[] = []
  for (const file of readdirSync(dir)) {
    const step = stepOfName(file)
    if (step !== undefined) found.push({ file, step })
  }
  return found.sort((a, b) => a.step - b.step)
}

/** Removes temp files a crash left in the middle of a write; returns how many. Nothing else is touched. */
export function removeTempDebris(dir: string): number {
  let removed = 0
  for (const name of readdirSync(dir)) {
    if (!name.startsWith(TEMP_PREFIX)) continue
    rmSync(join(dir, name), { force: true })
    removed++
  }
  if (removed) fsyncDir(dir)
  return removed
}

/** Moves a file that failed its checks to the quarantine folder, never deleting it; returns where it went. */
export function quarantineFile(dir: string, name: string, quarantine: string, now: number): string {
  const target = join(quarantine, `${name}.${now}`)
  try {
    mkdirSync(quarantine, { recursive: true })
    renameSync(join(dir, name), target)
    fsyncDir(quarantine)
    fsyncDir(dir)
  } catch (error) {
    if (error instanceof NotDurableError) throw error
    throw new NotDurableError(`the move of ${join(dir, name)} to ${quarantine}`, error)
  }
  return target
}

/** A checkpoint as pruning sees it. */
export interface KeptCheckpoint {
  readonly file: string
  readonly step: number
  readonly metrics: RecordedMetrics
}

/**
 * The checkpoints to delete: all but the `keep` newest, and the best by
 * `best.metric` when asked (the earliest of equals; a checkpoint without a
 * finite value is never best).
 */
export function checkpointsToPrune(
  checkpoints: readonly KeptCheckpoint[],
  keep: number,
  best: LoopBest | undefined,
): string[] {
  const newestFirst = [...checkpoints].sort((a, b) => b.step - a.step)
  const kept = new Set(newestFirst.slice(0, keep).map((c) => c.file))
  const bestOne = best ? bestCheckpoint(checkpoints, best) : undefined
  if (bestOne) kept.add(bestOne.file)
  return newestFirst.filter((c) => !kept.has(c.file)).map((c) => c.file)
}

export function bestCheckpoint(checkpoints: readonly KeptCheckpoint[], best: LoopBest): KeptCheckpoint | undefined {
  let found: KeptCheckpoint | undefined
  for (const c of [...checkpoints].sort((a, b) => a.step - b.step)) {
    const value = c.metrics[best.metric]
    if (typeof value !== 'number' || !Number.isFinite(value)) continue
    const current = found?.metrics[best.metric] as number | undefined
    if (current === undefined || (best.mode === 'min' ? value < current : value > current)) found = c
  }
  return found
}

/** Deletes pruned checkpoints, then fsyncs the folder. Called only once a newer checkpoint is durable. */
export function removeCheckpoints(dir: string, files: readonly string[]): void {
  if (files.length === 0) return
  try {
    for (const file of files) rmSync(join(dir, file), { force: true })
  } catch (error) {
    throw new NotDurableError(`the removal of old checkpoints in ${dir}`, error)
  }
  fsyncDir(dir)
}
