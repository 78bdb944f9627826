import { statSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { holdsRun } from '../inspect/readStatus.ts'
import { PROGRESS_JSON } from '../telemetry/progressFiles.ts'
import { goneBecause, type RunItem, runItem } from './runs.ts'

/** A followed run whose folder no longer holds it (deleted, moved, or reused by another run): said once, then silence. */
export interface RunGone {
  readonly gone: true
  readonly id: string
  readonly dir: string
  readonly because: string
}

type Listener = (item: RunItem | RunGone) => void

interface Watched {
  readonly dir: string
  readonly listeners: Set<Listener>
  timer: NodeJS.Timeout
  mtimeMs: number
  lastSentAt: number
}

/**
 * Live updates for the server-sent events: one poller per watched run,
 * however many pages follow it. progress.json is rewritten at every commit,
 * so its modification time tells when there is news; the status is also
 * re-sent every few seconds, so a run whose owner died turns "not running".
 */
export class RunFeed {
  private readonly watched = new Map<string, Watched>()
  private subscribers = 0

  constructor(
    private readonly root: string,
    private readonly options: { readonly pollMs?: number; readonly resendMs?: number } = {},
  ) {}

  get clients(): number {
    return this.subscribers
  }

  /** Calls `listener` now and on every change of the run in `dir`; returns the unsubscribe. */
  subscribe(id: string, dir: string, listener: Listener): () => void {
    let entry = this.watched.get(id)
    if (!entry) {
      const created: Watched = {
        dir,
        listeners: new Set(),
        timer: setInterval(() => void this.poll(id), this.options.pollMs ?? 250),
        mtimeMs: 0,
        lastSentAt: 0,
      }
      created.timer.unref()
      this.watched.set(id, created)
      entry = created
    }
    entry.listeners.add(listener)
    this.subscribers++
    void this.send(id, entry, [listener])
    return () => {
      if (!entry.listeners.delete(listener)) return
      this.subscribers--
      if (entry.listeners.size === 0) {
        clearInterval(entry.timer)
        this.watched.delete(id)
      }
    }
  }

  close(): void {
    for (const entry of this.watched.values()) clearInterval(entry.timer)
    this.watched.clear()
    this.subscribers = 0
  }

  private async poll(id: string): Promise<void> {
    const entry = this.watched.get(id)
    if (!entry) return
    let mtimeMs = 0
    try {
      mtimeMs = statSync(join(resolve(this.root), entry.dir, PROGRESS_JSON)).mtimeMs
    } catch {
      // No progress.json (a shared run whose owner has not written one): the status is re-sent on time alone.
    }
    if (mtimeMs === entry.mtimeMs && Date.now() - entry.lastSentAt < (this.options.resendMs ?? 5_000)) return
    entry.mtimeMs = mtimeMs
    await this.send(id, entry, [...entry.listeners])
  }

  private async send(id: string, entry: Watched, listeners: readonly Listener[]): Promise<void> {
    entry.lastSentAt = Date.now()
    const dir = join(resolve(this.root), entry.dir)
    const item = await runItem(this.root, dir, Date.now()).catch(() => undefined)
    const replaced = item !== undefined && !item.unreadable && item.id !== id
    if (replaced || (!item && !holdsRun(dir))) {
      const gone: RunGone = { gone: true, id, dir: entry.dir, because: goneBecause(this.root, entry.dir) }
      for (const listener of listeners) listener(gone)
      return
    }
    if (!item) return
    for (const listener of listeners) listener(item)
  }
}
