import { z } from 'zod'
import type { InputSource } from './inputs/input.ts'
import { JOB_BRAND } from './jobBrand.ts'
import type { OutputFormat } from './outputs/format.ts'
import { limitsOfOption, type RateLimit, type RateLimitOption } from './rateLimit.ts'
import type { Rng } from './rng.ts'

/** What an item function is given besides its index or record. */
export interface ItemContext<P> {
  /** The item's index, 0 … total-1. */
  readonly index: number
  /** The resolved params (schema defaults filled in). */
  readonly params: P
  /** The run's seed. */
  readonly seed: number
  /** This item's own random stream, derived from (seed, index) only. */
  readonly rng: Rng
  /**
   * The global fetch, except that HTTP 429, and 503 with a Retry-After, throw RateLimitedError: the item is called
   * again after the wait the service asked for (with backoff and jitter), without using up its `retries`.
   */
  fetch(input: string | URL | Request, init?: RequestInit): Promise<Response>
  /**
   * Takes counted units of the job's `rateLimit` (`{ tokens: 812 }`), waiting until the limit has room: before a call,
   * what it will use, or after it, what it used. Units the limit does not name are not limited.
   */
  take(amounts: Readonly<Record<string, number>>): Promise<void>
  /**
   * Reports what this call of the item used, by named counters: `ctx.usage({ tokens: 812, usd: 0.0012 })` (`usd` is
   * the cost, in US dollars). May be called several times; the amounts add up. Each amount is a finite number ≥ 0.
   * Counted exactly once, when the item's range commits, in the same journal write: after a crash and a resume the
   * run's totals are the sum over its committed items. What an attempt that then throws reported is counted apart, as
   * spent on failed attempts (a paid call that failed was still paid). Returns nothing; never waits.
   */
  usage(amounts: Readonly<Record<string, number>>): void
}

/** Options every map job may set. */
interface JobOptionsBase<S extends z.ZodType> {
  /** Names the job in outputs, progress and proofs. Letters, digits, `-`, `_`, `.`. */
  readonly name: string
  /** A zod schema for the params; `--param k=v` / `--params JSON` are checked against it. @default z.object({}) */
  readonly params?: S
  /** How the items are written: `npy({...})` or `jsonl()`. */
  readonly output: OutputFormat
  /** The seed when `--seed` is not given. @default 0 */
  readonly seed?: number
  /** Commit finished items at least this often, in milliseconds. @default 60_000 */
  readonly checkpointEvery?: number
  /** How many times a failing item is retried before the run fails. @default 2 */
  readonly retries?: number
  /**
   * The limit a service the items call imposes, for the whole run: `{ requests: 600, per: 'minute' }`, and any
   * counted unit beside it (`tokens: 90_000`, taken with `ctx.take`). Each call of the item function takes one
   * request. `run --rate-limit` wins; neither is part of the job's fingerprint. @default none
   */
  readonly rateLimit?: RateLimitOption
  /**
   * How many items may be in flight at once in a process, over all its worker
   * threads: for items that wait on a service (an HTTP call, a model
   * endpoint), `async` functions of which many can wait together. Results are
   * still written in index order, so the output and its digest are the same
   * at any concurrency. `run --concurrency N` overrides it, also on a resume.
   * @default one item per worker thread
   */
  readonly concurrency?: number
  /**
   * Checks one record as it was written (read back from the output, as a loader
   * would see it): return `true`/nothing when it is good, `false` or a reason
   * when it is not. Preflight runs it on every rehearsal item.
   */
  readonly validate?: (record: any, index: number) => boolean | string | undefined
  /**
   * Checks over the whole rehearsal output, by name, e.g. class balance: each
   * gets every record in index order (streamed from disk) and returns `true`
   * or the reason it fails.
   */
  readonly datasetChecks?: Readonly<Record<string, (records: Iterable<any>) => boolean | string>>
  /**
   * Files the job depends on without importing them (a script it spawns, the
   * prompts it reads): globs relative to the job file's folder, e.g.
   * `['server.py', 'prompts/*.txt']`. Their content is part of the job's
   * fingerprint, so editing one refuses a resume and voids its proof, naming
   * the file. `[]` declares none.
   * @default the scripts beside the job file (not in subfolders): `*.py`, `*.sh`, `*.js`, `*.ts`, … but not tests or longhaul.config.*
   */
  readonly files?: readonly string[]
}

/** Items made from their index: `item(index, ctx)`. */
export interface GeneratorJobOptions<S extends z.ZodType> extends JobOptionsBase<S> {
  /** How many items when `--total` is not given. */
  readonly total?: number
  readonly item: (index: number, ctx: ItemContext<z.output<S>>) => unknown
  readonly input?: undefined
}

/** Items made from the records of an input: `item(record, ctx)`, index = record number. */
export interface InputJobOptions<S extends z.ZodType, R> extends JobOptionsBase<S> {
  readonly input: InputSource<R>
  readonly item: (record: R, ctx: ItemContext<z.output<S>>) => unknown
  readonly total?: undefined
}

export { JOB_BRAND }

/** A job as longhaul runs it: the user's options, checked, with defaults filled. */
export interface MapJob {
  readonly [JOB_BRAND]: 'map'
  readonly name: string
  readonly params: z.ZodType
  readonly output: OutputFormat
  readonly input: InputSource<unknown> | undefined
  readonly total: number | undefined
  readonly seed: number
  readonly checkpointEvery: number
  readonly retries: number
  /** The resolved `rateLimit`; empty: none. */
  readonly rateLimit: RateLimit
  /** Items in flight per process; undefined: one per worker thread. Not part of the job's identity. */
  readonly concurrency: number | undefined
  readonly item: (indexOrRecord: never, ctx: ItemContext<unknown>) => unknown
  readonly validate: ((record: unknown, index: number) => boolean | string | undefined) | undefined
  readonly datasetChecks: Readonly<Record<string, (records: Iterable<unknown>) => boolean | string>>
  /** The declared `files` globs; undefined: the default (the scripts beside the job). */
  readonly files: readonly string[] | undefined
}

/** `files`: globs relative to the job file's folder. */
export const filesSchema = z.array(
  z.string().min(1, 'a glob relative to the job file, e.g. "server.py" or "prompts/*.txt"'),
)

const optionsSchema = z.object({
  name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'use letters, digits, ".", "_" or "-"'),
  output: z.custom<OutputFormat>(
    (v) => typeof v === 'object' && v !== null && 'newShard' in v,
    'use npy({...}) or jsonl()',
  ),
  item: z.custom<(...args: never[]) => unknown>((v) => typeof v === 'function', 'must be a function'),
  total: z.number().int().positive().optional(),
  seed: z
    .number()
    .int()
    .nonnegative()
    .max(2 ** 32 - 1)
    .default(0),
  checkpointEvery: z.number().int().positive().default(60_000),
  retries: z.number().int().nonnegative().default(2),
  rateLimit: z
    .object({ per: z.enum(['second', 'minute', 'hour']) })
    .catchall(z.number().positive('a limit is a number above 0'))
    .refine((v) => Object.keys(v).length > 1, 'name at least one unit, e.g. { requests: 600, per: "minute" }')
    .optional(),
  concurrency: z.number().int().positive().optional(),
  validate: z.custom<(...args: never[]) => unknown>((v) => typeof v === 'function', 'must be a function').optional(),
  datasetChecks: z
    .record(
      z.string(),
      z.custom<(...args: never[]) => unknown>((v) => typeof v === 'function', 'must be a function'),
    )
    .optional(),
  files: filesSchema.optional(),
})

/** Declares a map job. The job file's default export must be its result. */
export function defineJob<S extends z.ZodType = z.ZodObject<{}>>(options: GeneratorJobOptions<S>): MapJob
export function defineJob<S extends z.ZodType, R>(options: InputJobOptions<S, R>): MapJob
export function defineJob(options: GeneratorJobOptions<z.ZodType> | InputJobOptions<z.ZodType, unknown>): MapJob {
  const checked = optionsSchema.safeParse(options)
  if (!checked.success) throw new TypeError(`defineJob: ${z.prettifyError(checked.error)}`)
  if (options.input !== undefined && options.total !== undefined) {
    throw new TypeError('defineJob: an input job takes its total from the input; remove `total`')
  }
  return {
    [JOB_BRAND]: 'map',
    ...checked.data,
    total: checked.data.total,
    rateLimit: limitsOfOption(options.rateLimit),
    concurrency: checked.data.concurrency,
    params: options.params ?? z.object({}),
    input: options.input,
    item: options.item as MapJob['item'],
    validate: options.validate,
    datasetChecks: options.datasetChecks ?? {},
    files: options.files,
  }
}

export function isMapJob(value: unknown): value is MapJob {
  return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[JOB_BRAND] === 'map'
}
