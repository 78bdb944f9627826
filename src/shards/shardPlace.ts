/**
 * Where a run's committed shards live: its folder's data/ (one machine, or a
 * folder every machine shares), or an S3-compatible bucket (see bucket.ts).
 * Threads always write shards into a local folder first, under staged names
 * (shardNames.ts); `publish` makes them durable where they belong before the
 * journal records them (upload, then record), so a recorded file is always a
 * whole one; `finalize` gives a recorded range's files their final names, and
 * `discard` removes the files of a range that was not recorded.
 */
import { createHash } from 'node:crypto'
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fsyncDir, writeFileAtomic } from '../files/atomicFile.ts'
import { runPaths } from '../files/runDir.ts'
import { INDEX_FILE } from './shardNames.ts'

export interface ShardFile {
  readonly name: string
  readonly bytes: number
}

/** A range's file as a thread wrote it: `name` is its final name, `staged` the name it has until its commit is recorded. */
export interface StagedFile extends ShardFile {
  readonly staged: string
  readonly sha256: string
}

export interface ShardPlace {
  readonly kind: 'folder' | 'bucket'
  /** Where the run's output is, for people: its folder, or s3://bucket/prefix/. */
  readonly where: string
  /** Makes files a thread wrote to the local data folder durable where they belong (still staged); resolves once they are. */
  publish(files: readonly StagedFile[]): Promise<void>
  /**
   * The range was recorded: its files take their final names. Idempotent:
   * a file another process already finished is left as it is.
   */
  finalize(files: readonly StagedFile[]): Promise<void>
  /** The range was not recorded (its claim was lost, or the process stops): its staged files go. */
  discard(files: readonly StagedFile[]): Promise<void>
  /** Every file there (shards, index.json, anything else), with its size. */
  list(): Promise<Map<string, number>>
  /** A file's bytes; undefined when it is not there. */
  read(name: string): Promise<Buffer | undefined>
  remove(names: readonly string[]): Promise<void>
  /** Writes data/index.json atomically. */
  writeIndex(body: Buffer): Promise<void>
  /** Where staged files wait apart from data/ (a bucket's); absent when they wait in data/ itself (a folder's). */
  readonly staging?: StagingArea
  close(): void
}

/** Staged files kept apart from the shards (a bucket's `.longhaul/staged/`): recovery finishes or removes them. */
export interface StagingArea {
  /** Every staged file there, with its size. */
  list(): Promise<Map<string, number>>
  read(staged: string): Promise<Buffer | undefined>
  /** Gives a staged file of a recorded range its final name. */
  finish(staged: string, finalName: string): Promise<void>
  remove(staged: readonly string[]): Promise<void>
}

/** The run folder's own data/: threads write there, so there is nothing to publish. */
export function folderPlace(dataDir: string): ShardPlace {
  return {
    kind: 'folder',
    where: dirname(dataDir),
    publish: async () => undefined,
    finalize: async (files) => finalizeInFolder(dataDir, files),
    async discard(files) {
      for (const file of files) rmSync(join(dataDir, file.staged), { force: true })
    },
    async list() {
      const sizes = new Map<string, number>()
      for (const name of readdirSync(dataDir)) {
        // Another process may rename or remove a file of its own between the listing and this look at it.
        const size = statSync(join(dataDir, name), { throwIfNoEntry: false })?.size
        if (size !== undefined) sizes.set(name, size)
      }
      return sizes
    },
    async read(name) {
      try {
        return readFileSync(join(dataDir, name))
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined
        throw error
      }
    },
    async remove(names) {
      for (const name of names) rmSync(join(dataDir, name), { force: true })
      if (names.length > 0) fsyncDir(dataDir)
    },
    async writeIndex(body) {
      writeFileAtomic(dataDir, INDEX_FILE, [body])
      fsyncDir(dataDir)
    },
    close: () => undefined,
  }
}

/**
 * Renames each staged file of a recorded range to its final name. A final
 * name that already holds the recorded bytes (another process, or recovery,
 * finished it) is left, and the staged copy goes; one that holds anything
 * else is not longhaul's: it is moved to .longhaul/quarantine, never
 * overwritten. Then the folder is fsynced, so the names survive a crash.
 */
export function finalizeInFolder(dataDir: string, files: readonly StagedFile[]): void {
  for (const file of files) {
    const staged = join(dataDir, file.staged)
    const final = join(dataDir, file.name)
    const existing = readIfPresent(final)
    if (existing !== undefined) {
      if (existing.length === file.bytes && createHash('sha256').update(existing).digest('hex') === file.sha256) {
        rmSync(staged, { force: true })
        continue
      }
      const quarantine = runPaths(dirname(dataDir)).quarantine
      mkdirSync(quarantine, { recursive: true })
      renameSync(final, join(quarantine, `${file.name}.${Date.now()}`))
    }
    try {
      renameSync(staged, final)
    } catch (error) {
      // Finished at the same moment by another process (a recovery, or the owner's clean-up): the final name holds it.
      if (
        (error as NodeJS.ErrnoException).code !== 'ENOENT' ||
        statSync(final, { throwIfNoEntry: false })?.size !== file.bytes
      )
        throw error
    }
  }
  if (files.length > 0) fsyncDir(dataDir)
}

function readIfPresent(path: string): Buffer | undefined {
  try {
    return readFileSync(path)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw error
  }
}
