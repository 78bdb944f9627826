/**
 * What differs between the processes that work on a run: who opens it, what
 * its session records, and what a process leaves behind when its session
 * ends, is stopped at once, or fails. Every kind of work has the local role
 * (the owner of a run on one machine, here); a map run shared by several
 * processes has two more, its owner and a process that joined it
 * (work/map/role.ts). The lifecycle (lifecycle.ts) asks the role at each of
 * these steps and does the rest the same way for every process.
 */
import type { RunPaths } from '../files/runDir.ts'
import type { EndEvent } from '../journal/events.ts'
import type { OwnerLease, RunRecord, Store } from '../journal/store.ts'
import type { LaunchClearance } from '../telemetry/snapshot.ts'
import type { ProgressLoop } from './progressLoop.ts'
import { recordFailure } from './recordFailure.ts'
import type { RunSettings } from './settings.ts'

/** A run as a process opened it, whatever its work: journal open, run recorded, the owner lease held by its owner. */
export interface OpenedRun {
  readonly store: Store
  readonly paths: RunPaths
  readonly run: RunRecord
  /** Held by the run's owner; a process that joined a shared run holds none. */
  readonly lease: OwnerLease | undefined
  readonly resumed: boolean
  /** What the launch gate decided; undefined when no gate was asked. */
  readonly clearance: LaunchClearance | undefined
  /** Where --fresh moved a previous run, if it did. */
  readonly movedAsideTo?: string | undefined
}

/** How a session ends when the work returns rather than throws. */
export interface Ending {
  readonly state: 'complete' | 'interrupted' | 'failed'
  /** The detail of the journal's `complete`, `interrupted` or `failed` event. */
  readonly detail: EndEvent & { readonly digest?: string | null; readonly file?: string; readonly bytes?: number }
  /** The digest recorded in the run's own column (a loop's final.bin). @default none */
  readonly finalDigest?: string
  /** Why it failed, for the progress files. */
  readonly error?: string
}

/** What a process has of its run when its session ends. */
export interface Leaving<O extends OpenedRun = OpenedRun> {
  readonly open: O
  readonly progress: ProgressLoop | undefined
  /** Items (or steps) this process committed this session. */
  readonly committedHere: number
  /** Brings this process's count up to the journal's (a shared run: the other processes' commits). */
  readonly countOthers: () => Promise<void>
  readonly now: () => number
}

/** What a role's session records and does beyond a local owner's (startSession). */
export interface SessionPart {
  /** The name this process's claims and heartbeat go by. @default OWNER */
  readonly worker?: string
  /** More for the journal's started/resumed/joined event. */
  readonly detail?: Readonly<Record<string, unknown>>
  /** Runs after each heartbeat: a shared run's owner counts the other processes' commits there. */
  readonly afterHeartbeat?: () => Promise<void>
}

export interface RunRole<O extends OpenedRun = OpenedRun> {
  readonly kind: 'local' | 'owner' | 'worker'
  /** The name this process's claims and heartbeat go by. */
  readonly me: string
  /** Opens the run: creates or resumes it (gate, journal, owner lease), or joins it. */
  open(settings: RunSettings): Promise<O>
  /** What this process's session records and does beyond a local owner's. */
  session(countOthers: () => Promise<void>): SessionPart
  /** The session ends as `ending` says (also a stop at once: its detail says `forced`): what this process records. */
  end(leaving: Leaving<O>, ending: Ending): Promise<void>
  /** This process failed with `error`: what it records (best-effort) before the error is thrown. */
  failed(leaving: Leaving<O>, error: Error, detail: Ending['detail']): Promise<void>
  /** Lets go of what `open` made besides the journal and the lease (a bucket's client, a scratch folder). @default nothing */
  close?(open: O): void
}

/**
 * The owner of a run on one machine: it records the run's state and its end
 * in the journal and the progress files. A completed run stays recorded as
 * it was (a shared run's other process may have recorded it first).
 */
export function localRole<O extends OpenedRun>(me: string, open: (settings: RunSettings) => Promise<O>): RunRole<O> {
  return {
    kind: 'local',
    me,
    open,
    session: () => ({ worker: me }),
    end: recordEnding,
    failed: ({ open, progress, now }, error, detail) => recordFailure(open.store, progress, error, now, detail),
  }
}

/** Records the run's end in its journal (state and event) and its progress files; a run already recorded complete stays as it is. */
export async function recordEnding({ open, progress, now }: Leaving, ending: Ending): Promise<void> {
  const { store } = open
  const { state } = ending
  if (state !== 'complete' || (await store.getRun())?.state !== 'complete') {
    await store.setState(state, now(), ending.finalDigest)
    await store.addEvent(state, ending.detail, now())
  }
  await progress?.end(state, ending.error)
}
