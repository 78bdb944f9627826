import { randomBytes } from 'node:crypto'
import { statSync } from 'node:fs'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { gzipSync } from 'node:zlib'
import { runPaths } from '../files/runPaths.ts'
import { PROGRESS_JSON } from '../telemetry/progressFiles.ts'
import { findRunDirs, goneBecause, markCopies, type RunItem, runItem } from './runs.ts'

/** What changed in the index at one refresh: the runs whose status changed or that appeared, and those that went away. */
export interface IndexChange {
  /** The index's version after this change; each change is one version after the one before. */
  readonly version: number
  /** The version this diff follows, when it is not `version - 1` (a status sent as it is, not a change). */
  readonly since?: number
  readonly upserts: readonly RunItem[]
  readonly removed: readonly RemovedRun[]
}

/** A run no longer in its folder: the folder was deleted or moved, or now holds another run. */
export interface RemovedRun {
  readonly id: string
  readonly dir: string
  /** Why, in words (see goneBecause). */
  readonly because: string
}

export interface RootIndexOptions {
  /** How often every known run's files are looked at (one stat each). @default 250 */
  readonly pollMs?: number
  /** How often the folders under the root are walked again for new and removed runs. @default 2000 */
  readonly rescanMs?: number
  /** A live run (or one shared through PostgreSQL) is read again at least this often, even with no file changed. @default 5000 */
  readonly resendMs?: number
}

interface Entry {
  /** The run folder, absolute. */
  readonly dir: string
  /** The run as read from its folder. */
  item: RunItem | undefined
  /** The run as listed: `item`, marked when another folder holds the same run (markCopies). */
  shown: RunItem | undefined
  /** Modification times of the files a status is read from: when they have not moved, neither has the run. */
  signature: string
  readAt: number
}

/** A folder whose run could not be read is read again after this long even when none of its files moved. */
const RETRY_MS = 30_000

/** How soon after the last walk of the folders a request for an unknown run may have them walked again. */
const EARLY_SCAN_MS = 500

/** Changes kept for pages that catch up by asking what changed since a version (the polling fallback). */
const KEPT_CHANGES = 500

/**
 * Every run under the served root, kept up to date by one timer: the one
 * reading of ROOT behind /api/runs, /metrics and every live update, however
 * many pages and streams are open. Each tick stats the files of the live runs
 * and reads again only the runs whose files moved (and every live run every
 * few seconds, so a dead owner turns "not running"); the folders are walked
 * again on a slower timer, for runs that appear or go away and for the files of
 * runs nobody is working on (a finished run resumed shows within that time).
 */
export class RootIndex {
  /** Differs at each start of the server: a page that sees another epoch reloads the list. */
  readonly epoch = randomBytes(6).toString('hex')
  private readonly entries = new Map<string, Entry>()
  private readonly listeners = new Set<(change: IndexChange) => void>()
  private readonly changes: IndexChange[] = []
  private versionNow = 0
  private body:
    | { version: number; json: Uint8Array<ArrayBuffer>; gzipped: Uint8Array<ArrayBuffer> | undefined }
    | undefined
  private lastScanAt = 0
  private timer: NodeJS.Timeout | undefined
  private running: Promise<void> | undefined
  private closed = false
  readonly ready: Promise<void>

  constructor(
    private readonly root: string,
    private readonly options: RootIndexOptions = {},
  ) {
    this.ready = this.refresh()
    this.timer = setInterval(() => void this.refresh().catch(() => undefined), options.pollMs ?? 250)
    this.timer.unref()
  }

  get version(): number {
    return this.versionNow
  }

  /** Every run, in the order the folders were found. */
  runs(): RunItem[] {
    const items: RunItem[] = []
    for (const entry of this.entries.values()) if (entry.shown) items.push(entry.shown)
    return items
  }

  /**
   * The body of /api/runs, `{ epoch, version, runs }`, made once per version of the index however many ask, and
   * its gzip made once too, when first asked for (500 runs: some 400 KB of JSON, a tenth of that gzipped).
   */
  listBody(gzip: boolean): Uint8Array<ArrayBuffer> {
    if (this.body?.version !== this.versionNow) {
      const json = JSON.stringify({ epoch: this.epoch, version: this.versionNow, runs: this.runs() })
      this.body = { version: this.versionNow, json: new TextEncoder().encode(json), gzipped: undefined }
    }
    if (!gzip) return this.body.json
    this.body.gzipped ??= new Uint8Array(gzipSync(this.body.json, { level: 6 }))
    return this.body.gzipped
  }

  /**
   * The run with this id: the one in `dir` (relative to the root) when given, else the one the other folders
   * holding it are copies of; undefined when there is none.
   */
  find(id: string, dir?: string): RunItem | undefined {
    let first: RunItem | undefined
    for (const entry of this.entries.values()) {
      const run = entry.shown
      if (run?.id !== id) continue
      if (dir !== undefined ? run.dir === dir : !run.copyOf) return run
      first ??= run
    }
    return dir === undefined ? first : undefined
  }

  /**
   * As find, but a run not (yet) in the index is looked for again: a page opened for a run that has just started
   * finds it before the next walk of the folders. The folders are walked for this at most every half second: a
   * question asked sooner after a walk waits for the next one, and a walk begun after it was asked answers it.
   */
  async findNow(id: string, dir?: string): Promise<RunItem | undefined> {
    await this.ready
    const known = this.find(id, dir)
    if (known) return known
    const asked = Date.now()
    const wait = this.lastScanAt + EARLY_SCAN_MS - asked
    if (wait > 0) await sleep(wait)
    await this.running
    // A walk begun in the same millisecond as the question may have been before it (the clock counts milliseconds).
    if (this.lastScanAt <= asked) {
      this.lastScanAt = 0
      await this.refresh()
    }
    return this.find(id, dir)
  }

  /** Calls `listener` with every change from now on; returns the unsubscribe. */
  onChange(listener: (change: IndexChange) => void): () => void {
    this.listeners.add(listener)
    return () => this.listeners.delete(listener)
  }

  /** The changes after `version`, merged (the latest status of each run); undefined when they are no longer kept. */
  changesSince(version: number): IndexChange | undefined {
    if (version === this.versionNow) return { version, upserts: [], removed: [] }
    const oldest = this.changes[0]
    if (version > this.versionNow || !oldest || oldest.version > version + 1) return undefined
    // By run and folder: a folder that now holds another run has its old run removed and its new one upserted.
    const key = (run: { id: string; dir: string }) => `${run.id}\n${run.dir}`
    const upserts = new Map<string, RunItem>()
    const removed = new Map<string, RemovedRun>()
    for (const change of this.changes) {
      if (change.version <= version) continue
      for (const gone of change.removed) {
        upserts.delete(key(gone))
        removed.set(key(gone), gone)
      }
      for (const item of change.upserts) {
        removed.delete(key(item))
        upserts.set(key(item), item)
      }
    }
    return { version: this.versionNow, upserts: [...upserts.values()], removed: [...removed.values()] }
  }

  close(): void {
    this.closed = true
    clearInterval(this.timer)
    this.timer = undefined
    this.listeners.clear()
  }

  /** One refresh at a time: a tick that comes while one runs shares it. */
  private refresh(): Promise<void> {
    if (this.running) return this.running
    this.running = this.update().finally(() => {
      this.running = undefined
    })
    return this.running
  }

  private async update(): Promise<void> {
    const now = Date.now()
    const removed: RemovedRun[] = []
    const gone = (item: RunItem) =>
      removed.push({ id: item.id, dir: item.dir, because: goneBecause(this.root, item.dir) })
    const rescan = now - this.lastScanAt >= (this.options.rescanMs ?? 2_000)
    if (rescan) {
      this.lastScanAt = now
      const found = findRunDirs(this.root)
      const present = new Set(found)
      for (const [dir, entry] of this.entries) {
        if (present.has(dir)) continue
        this.entries.delete(dir)
        if (entry.shown) gone(entry.shown)
      }
      for (const dir of found)
        if (!this.entries.has(dir))
          this.entries.set(dir, { dir, item: undefined, shown: undefined, signature: '', readAt: 0 })
    }
    const resendMs = this.options.resendMs ?? 5_000
    const read = new Set<Entry>()
    for (const entry of this.entries.values()) {
      if (this.closed) return
      // A run nobody is working on (finished, or its owner gone) is looked at only with the folders, every few
      // seconds: most of a big root, which is then not stat'ed four times a second.
      const settled = entry.item && !entry.item.live && entry.item.shared === undefined
      if (settled && !rescan) continue
      const signature = signatureOf(entry.dir)
      // A run that could not be read (a database out of reach, a file being replaced) is tried again now and then.
      const again = entry.item ? (entry.item.live || entry.item.shared !== undefined ? resendMs : Infinity) : RETRY_MS
      if (signature === entry.signature && now - entry.readAt < again) continue
      entry.signature = signature
      entry.readAt = now
      entry.item = await runItem(this.root, entry.dir, Date.now()).catch(() => undefined)
      read.add(entry)
    }
    if (this.closed) return
    // What is listed: each run as read, marked where several folders hold the same run; a run whose listing
    // changed (its own status, or a copy appearing or going) is sent.
    const upserts: RunItem[] = []
    if (read.size > 0 || removed.length > 0) {
      const entries = [...this.entries.values()].filter((entry) => entry.item !== undefined)
      const listed = markCopies(
        this.root,
        entries.map((entry) => entry.item!),
      )
      const present = new Set(entries)
      entries.forEach((entry, i) => {
        const before = entry.shown
        entry.shown = listed[i]
        // A folder that now holds another run: the run it held is gone (said to the pages that follow it).
        if (before && before.id !== entry.shown!.id) gone(before)
        // Only a run read again, or marked as a copy now or before, can list differently.
        const marked = listed[i] !== entry.item || before?.copyOf !== undefined || before?.copies !== undefined
        if (!read.has(entry) && !marked && before) return
        if (!before || JSON.stringify(before) !== JSON.stringify(entry.shown)) upserts.push(entry.shown!)
      })
      for (const entry of this.entries.values()) {
        if (present.has(entry) || !entry.shown) continue
        gone(entry.shown)
        entry.shown = undefined
      }
    }
    if (this.closed || (upserts.length === 0 && removed.length === 0)) return
    const change: IndexChange = { version: ++this.versionNow, upserts, removed }
    this.changes.push(change)
    if (this.changes.length > KEPT_CHANGES) this.changes.shift()
    for (const listener of this.listeners) listener(change)
  }
}

/** The modification times of a run's progress.json and journal files; a file that is not there counts as 0. */
function signatureOf(dir: string): string {
  const paths = runPaths(dir)
  return [join(dir, PROGRESS_JSON), paths.journal, `${paths.journal}-wal`, paths.storeLink]
    .map((path) => {
      try {
        const stat = statSync(path)
        return `${stat.mtimeMs}/${stat.size}`
      } catch {
        return '0'
      }
    })
    .join(':')
}
