import {
  type CheckpointExpectation,
  type CheckpointInfo,
  type KeptCheckpoint,
  listCheckpoints,
  quarantineFile,
  readCheckpoint,
  readCheckpointHeader,
  removeTempDebris,
} from './checkpoints.ts'

/** A checkpoint that failed its checks and was moved aside. */
export interface CorruptCheckpoint {
  readonly file: string
  readonly step: number
  readonly reason: string
  readonly movedTo: string
}

export interface RecoveredCheckpoints {
  /** The newest checkpoint that verifies, with its state's bytes; undefined when there is none (start from init). */
  readonly newest: { readonly info: CheckpointInfo; readonly payload: Uint8Array<ArrayBuffer> } | undefined
  /** Every checkpoint left in the folder, the newest included, for pruning. */
  readonly kept: KeptCheckpoint[]
  /** Checkpoints that failed their checks, newest first, each moved to the quarantine folder. */
  readonly corrupt: CorruptCheckpoint[]
  /** Temp files of a write a crash cut short, removed. */
  readonly removedTemp: number
}

/**
 * Finds where a loop resumes: the newest checkpoint whose header, length and
 * sha256 all verify. A newer one that fails is moved to `quarantine` (never
 * deleted) and the one before it is tried. Older checkpoints have their
 * header checked (not their payload), so a later pruning knows their metrics;
 * a bad header there is moved aside too.
 */
export function recoverCheckpoints(
  dir: string,
  quarantine: string,
  expect: CheckpointExpectation,
  now: number,
): RecoveredCheckpoints {
  const removedTemp = removeTempDebris(dir)
  const corrupt: CorruptCheckpoint[] = []
  const kept: KeptCheckpoint[] = []
  let newest: RecoveredCheckpoints['newest']
  for (const { file, step } of listCheckpoints(dir).reverse()) {
    const read = newest ? readCheckpointHeader(dir, file, expect) : readCheckpoint(dir, file, expect)
    if ('corrupt' in read) {
      corrupt.push({ file, step, reason: read.corrupt, movedTo: quarantineFile(dir, file, quarantine, now) })
      continue
    }
    if ('payload' in read) newest = read
    const metrics = 'info' in read ? read.info.metrics : read.metrics
    kept.push({ file, step, metrics })
  }
  return { newest, kept, corrupt, removedTemp }
}
