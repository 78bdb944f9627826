import type { Store } from '../../journal/store.ts'
import type { ProgressLoop } from '../../run/progressLoop.ts'
import type { ProgressTracker } from '../../telemetry/progressTracker.ts'
import { CheckpointFinder, type FoundCheckpoint } from './checkpoints.ts'
import type { JournalWrites } from './journal.ts'
import type { ExecEvent } from './protocol.ts'
import type { TqdmProgress } from './tqdm.ts'

/** Protocol log lines kept in the journal per session; more are counted, not kept. */
const MAX_LOG_EVENTS = 1_000
/** A metric's values kept between two journal writes, the newest: what a chart of it draws (each `[at, step, value]`). */
const MAX_POINTS_PER_WRITE = 100

export interface ReportsContext {
  readonly store: Store
  readonly tracker: ProgressTracker
  readonly progress: ProgressLoop
  readonly journal: JournalWrites
  /** The amount of work, when the program does not say. */
  readonly total: number | undefined
  /** The --checkpoints glob, relative to `cwd`. */
  readonly checkpoints: string | undefined
  readonly cwd: string
  /** When the run was created: a checkpoint file older than that is never the run's. */
  readonly createdAt: number
  readonly note: (message: string) => void
  readonly now: () => number
  /** Told of each total the program states (protocol or followed bar). */
  readonly stated?: (total: number) => void
  /** Told of each new checkpoint, after the journal is. */
  readonly checkpointed?: (found: FoundCheckpoint) => void
}

/**
 * What a supervised program says of itself, turned into the run's telemetry
 * and journal: its progress (the protocol's, else the tqdm bar it prints),
 * its checkpoints (announced, or found by the glob), its metrics and log
 * lines. The progress loop publishes; this tells it what moved.
 */
export class ProgramReports {
  private readonly finder: CheckpointFinder
  private readonly metrics = new Map<
    string,
    { value: number | null; step: number | null; points: [number, number | null, number][] }
  >()
  private metricsDirty = false
  private lastCheckpoint: FoundCheckpoint | undefined
  private logEvents = 0
  private protocolProgress = false
  private bar: { desc: string | null; withTotal: boolean } | undefined
  /** The program's life, and where it last said it was; what of it the journal has (`progress` events). */
  private life = 0
  private position: { done: number; total: number | null } | undefined
  private journaled: { life: number; done: number } | undefined

  constructor(private readonly c: ReportsContext) {
    // mtimes have a coarser clock than Date.now on some file systems: a second of slack.
    this.finder = new CheckpointFinder(c.checkpoints, c.cwd, c.createdAt - 1_000)
  }

  /** The newest checkpoint seen this session. */
  get checkpoint(): string | null {
    return this.lastCheckpoint?.path ?? null
  }

  onEvent(event: ExecEvent): void {
    const now = this.c.now()
    switch (event.type) {
      case 'progress':
        this.protocolProgress = true
        if (event.unit) this.c.tracker.unit = event.unit
        if (event.total != null) this.c.stated?.(event.total)
        this.c.progress.reported(this.c.tracker.position(event.done, event.total ?? this.c.total ?? null, now))
        this.moved(event.done, event.total ?? this.c.total ?? null)
        return
      case 'checkpoint': {
        // Its progress comes on the same channel, in order: where it last said it was is where the checkpoint is.
        const found = this.finder.announce(event.path, event.step, this.protocolDone())
        if (found) this.checkpointed(found)
        else this.c.note(`the program announced checkpoint ${event.path}, which does not exist; ignored`)
        return
      }
      case 'metric': {
        const points = this.metrics.get(event.name)?.points ?? []
        if (event.value !== null) points.push([now, event.step, event.value])
        if (points.length > MAX_POINTS_PER_WRITE) points.shift()
        this.metrics.set(event.name, { value: event.value, step: event.step, points })
        this.metricsDirty = true
        return
      }
      case 'log':
        if (++this.logEvents <= MAX_LOG_EVENTS)
          void this.c.journal.event('log', { level: event.level, message: event.message })
        return
    }
  }

  /**
   * A tqdm bar updated. The protocol wins when the program speaks it; else the
   * first bar seen with a total is followed (the outermost of nested bars),
   * or the first bar at all while none has a total.
   */
  onBar(bar: TqdmProgress): void {
    if (this.protocolProgress) return
    const withTotal = bar.total !== null
    if (!this.bar || (withTotal && !this.bar.withTotal)) this.bar = { desc: bar.desc, withTotal }
    if (bar.desc !== this.bar.desc || withTotal !== this.bar.withTotal) return
    if (bar.unit !== 'it') this.c.tracker.unit = bar.unit
    if (bar.total !== null) this.c.stated?.(bar.total)
    this.c.progress.reported(this.c.tracker.position(bar.done, bar.total ?? this.c.total ?? null, this.c.now()))
    this.moved(bar.done, bar.total ?? this.c.total ?? null)
  }

  /** Where the program last said it was this life over the protocol; null before its first report, or with bars only (another stream, not in step with its checkpoint events). */
  private protocolDone(): number | null {
    return this.protocolProgress ? (this.position?.done ?? null) : null
  }

  /** A new life of the program begins: its first report is journaled at once (where its pace is measured from when the count it started from is not known). */
  startLife(life: number): void {
    this.life = life
    this.position = undefined
  }

  /**
   * Where the program is, journaled (a `progress` event) when it moved since the last one: called at every progress
   * interval and when a life ends, so the run's throughput over time can be drawn from the journal.
   */
  flushProgress(): void {
    const at = this.position
    if (!at || (this.journaled?.life === this.life && this.journaled.done === at.done)) return
    this.journaled = { life: this.life, done: at.done }
    void this.c.journal.event('progress', { life: this.life, done: at.done, total: at.total })
  }

  private moved(done: number, total: number | null): void {
    this.position = { done, total }
    if (this.journaled?.life !== this.life) this.flushProgress()
  }

  /** Every tick while the program runs: a checkpoint file it wrote without announcing it is found. */
  look(): void {
    const found = this.finder.newest(this.c.now())
    if (found) this.checkpointed(found)
  }

  /** The checkpoint to restart from, judged at the moment the program ended (what it was writing then may be cut short). */
  newest(at: number): FoundCheckpoint | undefined {
    return this.finder.newest(at)
  }

  /**
   * The metrics that changed since the last flush, as one journal event: each metric's latest value and step, and the
   * values reported since the last write (`points`, the newest), so a chart of them misses none between writes.
   */
  flushMetrics(): void {
    if (!this.metricsDirty) return
    this.metricsDirty = false
    const detail = Object.fromEntries(
      [...this.metrics].map(([name, { value, step, points }]) => [
        name,
        { value, step, ...(points.length > 0 && { points: [...points] }) },
      ]),
    )
    for (const metric of this.metrics.values()) metric.points = []
    void this.c.journal.event('metrics', detail)
  }

  /**
   * On resume: the last checkpoint the program announced, if its file is still there, else the glob's newest, judged at
   * the moment the program last ended (what it was writing then is what may be cut short), or now if that is unknown.
   */
  async checkpointOfEarlierSession(): Promise<FoundCheckpoint | undefined> {
    const events = await this.c.store.events()
    const last = events.findLast((e) => e.type === 'checkpoint' && e.detail.source === 'protocol')
    if (last) {
      const { path, step, done } = last.detail
      this.finder.announce(String(path), typeof step === 'number' ? step : null, typeof done === 'number' ? done : null)
    }
    const lastStart = events.findLast((e) => e.type === 'program-started')
    const lastExit = events.findLast((e) => e.type === 'program-exited')
    const diedAt = lastStart && lastExit && lastExit.at >= lastStart.at ? lastExit.at : this.c.now()
    const found = this.finder.newest(diedAt)
    if (found) this.c.note(`resuming: the newest checkpoint is ${found.path}`)
    return found
  }

  private checkpointed(found: FoundCheckpoint): void {
    if (this.lastCheckpoint?.path === found.path && this.lastCheckpoint.mtimeMs === found.mtimeMs) return
    this.lastCheckpoint = found
    void this.c.journal.event('checkpoint', {
      path: found.path,
      step: found.step,
      source: found.source,
      done: found.done,
    })
    this.c.progress.checkpointed()
    this.c.checkpointed?.(found)
  }
}
