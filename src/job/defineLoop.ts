import { z } from 'zod'
import { filesSchema, JOB_BRAND } from './defineJob.ts'
import type { Rng } from './rng.ts'

/** What `init` and `step` are given besides the state. */
export interface LoopContext<P> {
  /** The step about to run, 0 … steps-1; -1 in `init`. */
  readonly step: number
  /** Steps in this run (`--total`, else the loop's `steps`). */
  readonly steps: number
  /** The resolved params (schema defaults filled in). */
  readonly params: P
  /** The run's seed. */
  readonly seed: number
  /**
   * This step's own random stream, derived from (seed, step) only, so a step
   * draws the same numbers whether the run was resumed before it or not. `init`
   * gets the stream of step -1, which no step shares.
   */
  readonly rng: Rng
}

/** When a loop writes a checkpoint; whichever comes first. */
export interface LoopCheckpointEvery {
  /** After every this many steps (at steps that are multiples of it). @default none: time alone decides */
  readonly steps?: number
  /** At least this often, in milliseconds. @default 60_000 */
  readonly ms?: number
}

/** Which checkpoint is "best", by one of the values `metrics(state)` returns. */
export interface LoopBest {
  readonly metric: string
  readonly mode: 'min' | 'max'
}

/** The options of `defineLoop`. `T` is the state; `S` the params schema. */
export interface LoopOptions<S extends z.ZodType, T> {
  /** Names the job in outputs, progress and proofs. Letters, digits, `-`, `_`, `.`. */
  readonly name: string
  /** How many steps when `--total` is not given. It may grow between sessions; it is not part of the job's identity. */
  readonly steps?: number
  /** A zod schema for the params. @default z.object({}) */
  readonly params?: S
  /** The seed when `--seed` is not given. @default 0 */
  readonly seed?: number
  /** The state before step 0. */
  readonly init: (params: z.output<S>, ctx: LoopContext<z.output<S>>) => T | Promise<T>
  /** The state after step `i`, from the state before it. May change `state` in place and return it. */
  readonly step: (state: T, i: number, ctx: LoopContext<z.output<S>>) => T | Promise<T>
  /**
   * The state as bytes, for a checkpoint and for `final.bin`. `load(save(s))`
   * must step exactly as `s` would: that is what makes a resumed run end in
   * the same bytes as an uninterrupted one.
   */
  readonly save: (state: T) => Uint8Array | Promise<Uint8Array>
  /** The state back from `save`'s bytes. `bytes.buffer` holds exactly those bytes (byteOffset 0), so typed-array views of it are aligned. */
  readonly load: (bytes: Uint8Array<ArrayBuffer>) => T | Promise<T>
  /** @default { ms: 60_000 } (and always at the end, and when interrupted) */
  readonly checkpointEvery?: LoopCheckpointEvery
  /** How many of the newest checkpoints to keep (plus the best, when `best` is set). @default 3 */
  readonly keep?: number
  /** Also keep the best checkpoint by this metric. Needs `metrics`. */
  readonly best?: LoopBest
  /** Numbers recorded with each checkpoint (in its header and the journal), e.g. `{ loss }`. */
  readonly metrics?: (state: T) => Record<string, number> | Promise<Record<string, number>>
  /**
   * Files the loop depends on without importing them, as for `defineJob`:
   * globs relative to the job file's folder, part of its fingerprint.
   * @default the scripts beside the job file (not in subfolders)
   */
  readonly files?: readonly string[]
}

/** A loop job as longhaul runs it: the user's options, checked, with defaults filled. */
export interface LoopJob {
  readonly [JOB_BRAND]: 'loop'
  readonly name: string
  readonly params: z.ZodType
  readonly steps: number | undefined
  readonly seed: number
  readonly checkpointEvery: { readonly steps: number | undefined; readonly ms: number }
  readonly keep: number
  readonly best: LoopBest | undefined
  readonly init: (params: unknown, ctx: LoopContext<unknown>) => unknown
  readonly step: (state: unknown, i: number, ctx: LoopContext<unknown>) => unknown
  readonly save: (state: unknown) => Uint8Array | Promise<Uint8Array>
  readonly load: (bytes: Uint8Array<ArrayBuffer>) => unknown
  readonly metrics: ((state: unknown) => Record<string, number> | Promise<Record<string, number>>) | undefined
  /** The declared `files` globs; undefined: the default (the scripts beside the job). */
  readonly files: readonly string[] | undefined
}

const fn = z.custom<(...args: never[]) => unknown>((v) => typeof v === 'function', 'must be a function')

const optionsSchema = z.object({
  name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'use letters, digits, ".", "_" or "-"'),
  steps: z.number().int().positive().optional(),
  seed: z
    .number()
    .int()
    .nonnegative()
    .max(2 ** 32 - 1)
    .default(0),
  init: fn,
  step: fn,
  save: fn,
  load: fn,
  checkpointEvery: z
    .object({ steps: z.number().int().positive().optional(), ms: z.number().int().positive().default(60_000) })
    .strict()
    .default({ ms: 60_000 }),
  keep: z.number().int().positive().default(3),
  best: z
    .object({ metric: z.string().min(1), mode: z.enum(['min', 'max']) })
    .strict()
    .optional(),
  metrics: fn.optional(),
  files: filesSchema.optional(),
})

/** Declares a loop job: a stateful sequence of steps. The job file's default export must be its result. */
export function defineLoop<S extends z.ZodType = z.ZodObject<{}>, T = unknown>(options: LoopOptions<S, T>): LoopJob {
  const checked = optionsSchema.safeParse(options)
  if (!checked.success) throw new TypeError(`defineLoop: ${z.prettifyError(checked.error)}`)
  if (options.best && !options.metrics) {
    throw new TypeError(
      `defineLoop: best: { metric: '${options.best.metric}' } needs a metrics(state) function that returns it`,
    )
  }
  const { checkpointEvery } = checked.data
  return {
    [JOB_BRAND]: 'loop',
    name: checked.data.name,
    steps: checked.data.steps,
    seed: checked.data.seed,
    checkpointEvery: { steps: checkpointEvery.steps, ms: checkpointEvery.ms },
    keep: checked.data.keep,
    best: checked.data.best,
    params: options.params ?? z.object({}),
    init: options.init as LoopJob['init'],
    step: options.step as LoopJob['step'],
    save: options.save as LoopJob['save'],
    load: options.load as LoopJob['load'],
    metrics: options.metrics as LoopJob['metrics'],
    files: options.files,
  }
}

export function isLoopJob(value: unknown): value is LoopJob {
  return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[JOB_BRAND] === 'loop'
}
