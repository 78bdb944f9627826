/**
 * Where a run's committed shards live: its folder's data/ (one machine, or a
 * folder every machine shares), or an S3-compatible bucket (see bucket.ts).
 * Threads always write shards into a local folder first; `publish` makes
 * them durable where they belong before the journal records them (upload,
 * then record), so a recorded file is always a whole one.
 */
import { readdirSync, readFileSync, rmSync, statSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fsyncDir, writeFileAtomic } from '../store/atomicFile.ts'
import { INDEX_FILE } from './shardNames.ts'

export interface ShardFile {
  readonly name: string
  readonly bytes: number
}

export interface ShardPlace {
  readonly kind: 'folder' | 'bucket'
  /** Where the run's output is, for people: its folder, or s3://bucket/prefix/. */
  readonly where: string
  /** Makes files a thread wrote to the local data folder durable where they belong; resolves once they are. */
  publish(files: readonly ShardFile[]): Promise<void>
  /** The range was recorded or dropped: local copies of published files may go. */
  release(files: readonly ShardFile[]): void
  /** Every file there (shards, index.json, anything else), with its size. */
  list(): Promise<Map<string, number>>
  /** A file's bytes; undefined when it is not there. */
  read(name: string): Promise<Buffer | undefined>
  remove(names: readonly string[]): Promise<void>
  /** Writes data/index.json atomically. */
  writeIndex(body: Buffer): Promise<void>
  close(): void
}

/** The run folder's own data/: threads write there, so there is nothing to publish. */
export function folderPlace(dataDir: string): ShardPlace {
  return {
    kind: 'folder',
    where: dirname(dataDir),
    publish: async () => undefined,
    release: () => undefined,
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
