import { createRequire } from 'node:module'
import type * as Commander from '@commander-js/extra-typings'
import { VERSION } from '../version.ts'
import { collect, positiveSeconds, wholeNumber } from './argParsers.ts'
import type { Io } from './io.ts'

// Required rather than imported: the package's ES module wrapper costs every command about 10 ms more to load.
const { Command, Option } = createRequire(import.meta.url)('@commander-js/extra-typings') as typeof Commander

/** A seed: what every item's random stream derives from. */
const seedNumber = wholeNumber(0, 2 ** 32 - 1)

/**
 * Builds the command tree; each action stores its exit code in `result`. A command's module (and what it needs:
 * SQLite, PostgreSQL, esbuild, the dashboard) is imported only when that command runs, so `--help` loads none.
 */
export function program(io: Io, result: { code: number }, signal: AbortSignal | undefined): Commander.Command {
  const root = new Command('longhaul')
    .description(
      'Long-running batch jobs that commit as they go and resume after a crash with nothing lost and nothing made twice.',
    )
    .version(VERSION)
    .showHelpAfterError('(add --help for usage)')
    .exitOverride()
    .enablePositionalOptions()
    .configureOutput({ writeOut: (text) => io.out(text.trimEnd()), writeErr: (text) => io.err(text.trimEnd()) })

  root
    .command('run')
    .description('run or resume a job; Ctrl-C commits what is done and exits 130, the same command resumes')
    .argument('<job>', 'the job file (default export: defineJob({...}))')
    .option('--out <dir>', 'the run directory (default: runs/<job name>)')
    .option('--total <n>', "items 0 … n-1 (default: the job's total; may grow on resume)", wholeNumber(1))
    .option('--workers <k>', 'worker threads (default: the number of cores; one with a concurrency)', wholeNumber(1))
    .option(
      '--concurrency <n>',
      "async items in flight at once in this process, over all its worker threads; written in index order, so the output is the same at any value, and a resume may change it (default: the job's concurrency, else one per thread)",
      wholeNumber(1),
    )
    .option(
      '--seed <s>',
      "the seed every item's random stream derives from, 0 to 4294967295 (default: the job's, else 0)",
      seedNumber,
    )
    .option(
      '--param <key=value>',
      'one param (repeatable); the value is read as JSON when it parses',
      collect,
      [] as string[],
    )
    .option('--params <json>', 'params as one JSON object')
    .option(
      '--checkpoint-every <seconds>',
      "commit finished items (a loop: checkpoint) at least this often; decimals allowed (default: the job's, 60)",
      positiveSeconds,
    )
    .option(
      '--progress-every <seconds>',
      "rewrite progress.json and PROGRESS.txt at least this often (default: the policy's, 10)",
      wholeNumber(1),
    )
    .option(
      '--stall-after <seconds>',
      "report the run stalled after this long with nothing finished (default: the policy's, 300)",
      wholeNumber(1),
    )
    .option('--fresh', 'move an existing run in --out aside (never deleted) and start over')
    .option(
      '--skip-preflight',
      "run above the policy's scale without a passing proof; the waiver is recorded in the journal, progress.json and status",
    )
    .option('--config <file>', 'the policy file (default: the nearest longhaul.config.ts above the job)')
    .option('--no-publish', "do not push progress to the policy's publish targets for this run")
    .option(
      '--dashboard [port]',
      'serve the web dashboard of the runs beside --out while this one runs (port default 8080)',
    )
    .option(
      '--dashboard-host <host>',
      "the dashboard's address (default 127.0.0.1; any other needs the token it prints)",
    )
    .addOption(
      new Option(
        '--store <url>',
        'keep the journal in PostgreSQL (postgres://user@host/db) so that `longhaul worker` processes can join the run; --out must then be a folder they all share, or an S3-compatible bucket (s3://bucket/prefix)',
      ).env('LONGHAUL_STORE'),
    )
    .option(
      '--local <dir>',
      'with --out s3://…: the local folder for progress files and shards waiting for their upload (default: runs/<job name>)',
    )
    .option(
      '--lease-ttl <seconds>',
      'how long a dead process keeps its lease and ranges before others take them; decimals allowed (default 30)',
      positiveSeconds,
    )
    .option('--rate-limit <n/per>', "the called service's limit for the run: 600/min, 20/s,tokens=900/s")
    .option('--json', 'print the closing summary as JSON')
    .action(async (job, options) => {
      result.code = await (await import('./commands/run.ts')).runCommand(job, options, io, signal)
    })

  root
    .command('worker')
    .description(
      'join a run whose journal is in PostgreSQL (started by `run --store`) and take ranges of it until every item is committed; Ctrl-C gives back what it holds and leaves, the run goes on',
    )
    .argument('<job>', "the job file: the same code as the run's (its params and seed come from the run)")
    .requiredOption('--run <id>', 'the run to join (printed by `run --store`, and in --out/.longhaul/store.json)')
    .addOption(
      new Option('--store <url>', "the run's PostgreSQL database (postgres://user@host/db)")
        .env('LONGHAUL_STORE')
        .makeOptionMandatory(),
    )
    .option(
      '--out <dir>',
      "the run's shared folder, as this machine sees it; for a run whose shards go to a bucket, a local folder where they wait for their upload (default: a temporary one)",
    )
    .option('--workers <k>', 'worker threads (default: the number of cores; one with a concurrency)', wholeNumber(1))
    .option(
      '--concurrency <n>',
      "async items in flight at once in this process, over all its worker threads; written in index order, so the output is the same at any value, and a resume may change it (default: the job's concurrency, else one per thread)",
      wholeNumber(1),
    )
    .option(
      '--lease-ttl <seconds>',
      "how long this process's ranges outlive it if it dies (default 30); decimals allowed",
      positiveSeconds,
    )
    .option('--config <file>', 'the policy file (default: the nearest longhaul.config.ts above the job)')
    .option('--rate-limit <n/per>', "the service's limit for the whole run, as for run; this process takes its share")
    .option('--json', 'print the closing summary as JSON')
    .action(async (job, options) => {
      result.code = await (await import('./commands/worker.ts')).workerCommand(job, options, io, signal)
    })

  root
    .command('preflight')
    .description(
      'prove a job before a production-scale run: crash/resume, checkpoint cadence, progress freshness, a rehearsal at a fraction of the target, validators, every policy rule; writes the proof `run` asks for',
    )
    .usage('[options] <job>  |  --exec [exec options] --outputs GLOB --target N -- <command> [args...]')
    .argument('<job...>', 'the job file; with --exec, the program and its arguments (after --)')
    .option(
      '--target <n>',
      "the production-scale total the proof is for (required); with --exec, a {total} or {fraction} in the command sets its size, and preflight rehearses it at the policy's fraction and projects the target",
      wholeNumber(1),
    )
    .option(
      '--exec',
      "prove a program run by `longhaul exec`: uninterrupted, then SIGKILLed the policy's crashKills times and resumed; its --outputs must be byte-identical",
    )
    .option(
      '--outputs <glob>',
      'with --exec: the files the program writes (relative to its working folder, or absolute)',
    )
    .option(
      '--total <n>',
      'with --exec: the same as --target (the amount of work, as exec is given it)',
      wholeNumber(1),
    )
    .option(
      '--checkpoints <glob>',
      'with --exec: as for exec; without checkpoint events, cadence and kills follow when these files appear',
    )
    .option('--resume-arg <template>', 'with --exec: as for exec')
    .option('--out <dir>', 'the run directory the proof is for; it goes to its proofs/ (default: runs/<job name>)')
    .option('--seed <s>', "the seed of the run to prove (default: the job's, else 0)", seedNumber)
    .option('--param <key=value>', 'one param (repeatable), as for run', collect, [] as string[])
    .option('--params <json>', 'params as one JSON object')
    .option('--config <file>', 'the policy file (default: the nearest longhaul.config.ts above the job)')
    .option(
      '--rehearsal-budget <seconds>',
      "cap the rehearsal's time; its share of the target is scaled down to fit, and the report says so",
      wholeNumber(1),
    )
    .option('--concurrency <n>', 'items in flight per process in every run of the suite, as for run', wholeNumber(1))
    .option('--json', "print the proof's predicate as JSON")
    .action(async (job, options) => {
      result.code = options.exec
        ? await (await import('./commands/preflightExec.ts')).preflightExecCommand(job, options, io, signal)
        : await (await import('./commands/preflight.ts')).preflightCommand(job, options, io, signal)
    })

  root
    .command('init')
    .description(
      'a new job from a template, with tests that prove it crash-safe, fresh in its progress and bounded in its loss',
    )
    .argument(
      '[template]',
      'generator (items from their index), input (items from the records of a file), loop (a stateful sequence of steps, such as a training loop) or python (a generator in Python, with its pytest test)',
      'generator',
    )
    .option('--dir <dir>', 'where to write it (default: this folder)')
    .option('--name <name>', "the job's name (default: the folder's)")
    .option('--force', 'overwrite files that exist')
    .action(async (template, options) => {
      result.code = await (await import('./commands/init.ts')).initCommand(template, options, io)
    })

  root
    .command('serve')
    .description(
      'a web dashboard of every run under ROOT, live over server-sent events, with /metrics for Prometheus; Ctrl-C stops it',
    )
    .argument('[root]', 'the folder whose runs to show (default: ./runs, else .)')
    .option('--port <port>', 'the port (default 8080; 0 picks a free one)', wholeNumber(0, 65_535))
    .option('--host <host>', 'the address to listen on (default 127.0.0.1; any other needs a token)')
    .addOption(
      new Option(
        '--token <token>',
        'the token every request must carry (default: none on 127.0.0.1, generated and printed once elsewhere)',
      ).env('LONGHAUL_DASHBOARD_TOKEN'),
    )
    .option('--metrics-public', 'serve /metrics without the token')
    .action(async (dir, options) => {
      result.code = await (await import('./commands/serve.ts')).serveCommand(dir, options, io, signal)
    })

  root
    .command('status')
    .description(
      "where each run stands (from progress.json, and a shared run's PostgreSQL journal), live or dead; default: this folder, or every run under ./runs",
    )
    .argument('[dirs...]', 'run directories')
    .option('--json', 'print the statuses as JSON')
    .action(async (dirs, options) => {
      result.code = await (await import('./commands/status.ts')).statusCommand(dirs, options, io)
    })

  root
    .command('watch')
    .description('follow a run in the terminal, refreshed every second, until it ends')
    .argument(
      '<dir|url>',
      'the run directory, a dashboard run URL (http://host:port/runs/<id>[?token=…]) or the URL of a published progress.json',
    )
    .action(async (dir) => {
      result.code = await (await import('./commands/watch.ts')).watchCommand(dir, {}, io, signal)
    })

  root
    .command('exec')
    .description(
      'supervise any program: its progress (JSON lines on LONGHAUL_EVENTS, or the tqdm bars it prints) becomes progress.json, PROGRESS.txt, status and the dashboard; a crash restarts it from its newest checkpoint; exits with its exit code',
    )
    .usage('[options] -- <command> [args...]')
    .argument('<command...>', 'the program and its arguments (after --)')
    .passThroughOptions()
    .option(
      '--out <dir>',
      'the run directory: journal, progress.json, PROGRESS.txt (default: runs/<script or command name>)',
    )
    .option(
      '--name <name>',
      "the run's name in status and the dashboard (default: the script's or command's file name)",
    )
    .option(
      '--restarts <n>',
      'restart the program up to n times after a crash (non-zero exit or a signal); default 0',
      wholeNumber(0),
    )
    .option(
      '--checkpoints <glob>',
      'where the program writes checkpoints; the newest settled file is passed on restart (a protocol checkpoint event wins)',
    )
    .option(
      '--resume-arg <template>',
      "arguments added on a restart, {checkpoint} replaced by the checkpoint's path, e.g. '--resume {checkpoint}' (LONGHAUL_RESUME_FROM is set too)",
    )
    .option(
      '--total <n>',
      "the amount of work, when the program does not say; without it, a total the program states is gated (above the policy's scale without a proof it is stopped, exit 3); one that states none is not",
      wholeNumber(1),
    )
    .option(
      '--stall-after <seconds>',
      'report the run stalled when the program is alive but reports no progress for this long (default 300)',
      wholeNumber(1),
    )
    .option(
      '--progress-every <seconds>',
      'rewrite progress.json and print a progress line at least this often (default 10)',
      wholeNumber(1),
    )
    .option(
      '--grace <seconds>',
      'how long the program may take to stop after SIGINT/SIGTERM before it is killed (default 10)',
      wholeNumber(0),
    )
    .option(
      '--restart-delay <seconds>',
      'wait before the first restart, doubled for each next one up to 60 (default 1)',
      wholeNumber(0),
    )
    .option('--fresh', 'move an earlier run in --out aside (never deleted) and start over')
    .option(
      '--skip-preflight',
      "run a total (--total, or the program's own) above the policy's requireProofAbove without a proof from `preflight --exec`",
    )
    .option('--config <file>', 'the policy file (default: the nearest longhaul.config.ts above the script)')
    .option('--json', 'print the outcome as JSON')
    .action(async (command, options) => {
      result.code = await (await import('./commands/exec.ts')).execCommand(command, options, io, signal)
    })

  root
    .command('verify')
    .description("prove a run's output complete, duplicate-free and uncorrupted; print its dataset digest")
    .argument(
      '[dir]',
      "the run directory (for a run whose shards are in a bucket: the owner's local folder, or none with --run)",
    )
    .addOption(
      new Option(
        '--store <url>',
        'the PostgreSQL database of a run started with --store (default: the one the folder records, its password from PGPASSWORD or ~/.pgpass)',
      ).env('LONGHAUL_STORE'),
    )
    .option('--run <id>', 'with --store: verify this run, its shards read from its bucket, without a local folder')
    .option('--json', 'print the report as JSON')
    .action(async (dir, options) => {
      result.code = await (await import('./commands/verify.ts')).verifyCommand(dir, options, io)
    })

  root
    .command('doctor')
    .description(
      'rebuild the journal of a run whose journal is lost, truncated, garbled or lost its write-ahead log, from the shards in data/ whose own bytes prove them; the damaged journal and every shard that cannot be adopted are moved into .longhaul/, never deleted; a healthy journal is left as it is',
    )
    .argument(
      '<job>',
      'the job file the run was made with (a lost journal no longer says which job, params and seed made it)',
    )
    .option('--out <dir>', 'the run directory (default: runs/<job name>)')
    .option(
      '--total <n>',
      "the run's total, as given to run (default: the job's, or the end of the last shard)",
      wholeNumber(1),
    )
    .option('--seed <s>', "the seed the run was made with, as given to run (default: the job's, else 0)", seedNumber)
    .option('--param <key=value>', 'one param the run was made with (repeatable), as for run', collect, [] as string[])
    .option('--params <json>', 'the params the run was made with, as one JSON object')
    .option('--json', 'print the report as JSON')
    .action(async (job, options) => {
      result.code = await (await import('./commands/doctor.ts')).doctorCommand(job, options, io)
    })
  return root
}
