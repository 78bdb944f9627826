// The throughput chart's numbers, from a run's commits and session events: no DOM here.

/** The server keeps a run's newest 2,000 commits. */
const MAX_CHECKPOINTS = 2_000
/** Raw rates are measured over at least this long: commits a few milliseconds apart would draw spikes of nothing. */
const RAW_MIN_MS = 250
/** Points the smoothed line has per session, at most. */
const GRID_POINTS = 120

/**
 * The run's sessions, oldest first, from its events: each `started` or
 * `resumed` begins one (a process killed without a word ends where the next
 * begins); `interrupted`, `complete` and `failed` end it. `parallel` is how
 * many ranges it worked on at once (its workers).
 */
export function sessionsOf(events) {
  const sessions = []
  for (const e of events ?? []) {
    if (e.type === 'started' || e.type === 'resumed')
      sessions.push({ start: e.at, end: null, parallel: Math.max(1, Number(e.detail?.workers) || 1) })
    else if ((e.type === 'interrupted' || e.type === 'complete' || e.type === 'failed') && sessions.length)
      sessions.at(-1).end ??= e.at
  }
  return sessions
}

/** A run's commits as { t, n } (time, items), oldest first, and the items committed before the first of them. */
export function commitsOf(d) {
  const commits = d.checkpoints.map((c) => ({ t: c.at, n: c.end - c.start }))
  const sum = commits.reduce((total, c) => total + c.n, 0)
  const before = d.checkpoints.length >= MAX_CHECKPOINTS ? Math.max(0, d.snapshot.done - sum) : 0
  return { commits, before }
}

/**
 * The chart's columns: time (s); items/s smoothed; items/s as the commits
 * landed (raw); items committed. A session gap (between one session's last
 * commit and the next session's start) is an explicit null in every series,
 * which the chart draws as a break, never as a slope.
 *
 * Rates are measured over time, not from one commit to the next: with K
 * workers, a range of n items committed at t was made over the n·K/R seconds
 * before it (R the session's rate), so its items are spread over that time,
 * and the sum of those spreads, averaged over a window, is the smoothed rate.
 * Commits that land in pairs or in bursts (several workers finishing
 * together, the small ranges at a run's end) then draw the pace the items
 * were made at, not the pace their commits landed at.
 *
 * `stalledUntil`: the run is stalled, as of that moment; the last session's
 * smoothed line goes on to it, falling as nothing is made.
 */
export function chartColumns(commits, sessions, before = 0, stalledUntil = undefined) {
  return columnsOf(groupBySession(commits, sessions), before, stalledUntil)
}

/**
 * A supervised program's columns, from its lives (`/api/runs/<id>/lives`: each life's `[at, done]` samples, as it
 * journaled where it said it was, its `start` and the count it started `from`): the same rules as a map run's commits,
 * each life a session of one worker. A life whose `from` is known counts its work from its start at that count, so its
 * first report is work done (a life reporting 1..60 from 0 made 60 items); a restarted program resumes from its
 * checkpoint, so its count starts there, not at 0. A life whose `from` is unknown (a checkpoint found by the glob, an
 * older journal) counts from its first report. The committed line is where the program said it was; the time between
 * two lives (a restart's wait, no supervisor running) is a break.
 */
export function programColumns(lives, stalledUntil = undefined) {
  const groups = (lives ?? [])
    .filter((life) => life.samples.length >= 1)
    .map((life) => {
      const [first] = life.samples
      const known = typeof life.from === 'number' && typeof life.start === 'number' && life.start <= first[0]
      // The life's start at `from` (never above its first report: a count that went back starts there), else its first report.
      const origin = known ? [life.start, Math.min(life.from, first[1])] : first
      const points = known ? [origin, ...life.samples] : life.samples
      const commits = points.slice(1).map(([t, done], i) => ({ t, n: Math.max(0, done - points[i][1]) }))
      return { start: origin[0], parallel: 1, commits, from: origin[1] }
    })
  return columnsOf(groups, 0, stalledUntil)
}

/** Rows of every group (a session, or a program's life), a break between two, as the chart's columns. */
function columnsOf(groups, before, stalledUntil) {
  const rows = []
  let committed = before
  for (const [i, group] of groups.entries()) {
    if (!group.commits.length) continue
    if (i > 0 && rows.length) rows.push({ x: (rows.at(-1).x + group.start) / 2, gap: true })
    committed = sessionRows(group, group.from ?? committed, rows, i === groups.length - 1 ? stalledUntil : undefined)
  }
  rows.sort((a, b) => a.x - b.x)
  const cell = (row, key) => (row.gap ? null : row[key])
  return [
    rows.map((r) => r.x / 1000),
    rows.map((r) => cell(r, 'smoothed')),
    rows.map((r) => cell(r, 'raw')),
    rows.map((r) => cell(r, 'committed')),
  ]
}

/** The commits of each session, with the session's start (the first commit's time when no event tells it). */
function groupBySession(commits, sessions) {
  const groups = sessions.map((s) => ({ start: s.start, parallel: s.parallel, commits: [] }))
  const orphans = { start: null, parallel: sessions[0]?.parallel ?? 1, commits: [] }
  for (const c of commits) {
    let k = groups.length - 1
    while (k >= 0 && groups[k].start > c.t) k--
    ;(k >= 0 ? groups[k] : orphans).commits.push(c)
  }
  if (orphans.commits.length) orphans.start = orphans.commits[0].t
  return [...(orphans.commits.length ? [orphans] : []), ...groups]
}

/** One session's rows (smoothed on a grid, raw and committed at each commit); returns the items committed after it. */
function sessionRows({ start, parallel, commits }, committedBefore, rows, stalledUntil) {
  const lastCommit = commits.at(-1).t
  const last = Math.max(lastCommit, stalledUntil ?? 0)
  const items = commits.reduce((sum, c) => sum + c.n, 0)
  let committed = committedBefore
  let anchor = { t: start, committed }
  for (const [i, c] of commits.entries()) {
    committed += c.n
    const raw =
      c.t - anchor.t >= RAW_MIN_MS && (i > 0 || c.t > start)
        ? ((committed - anchor.committed) * 1000) / (c.t - anchor.t)
        : undefined
    rows.push({ x: c.t, raw, committed })
    if (raw !== undefined) anchor = { t: c.t, committed }
  }
  if (lastCommit <= start || items <= 0) return committed
  const perMs = paceOf(commits, parallel, start)
  // Each commit's items, spread over the time they were made in: [from, to].
  const spans = commits.map((c) => ({ to: c.t, from: Math.max(start, c.t - (c.n * parallel) / perMs), n: c.n }))
  const first = Math.min(...spans.map((s) => s.from))
  const made = (t) => {
    let sum = 0
    for (const s of spans) sum += t >= s.to ? s.n : t <= s.from ? 0 : (s.n * (t - s.from)) / (s.to - s.from)
    return sum
  }
  const span = last - first
  // The window holds four of a typical range's making at least, so ranges finishing out of step do not draw waves;
  // it trails each point (the rate over the window before it, as Prometheus's rate() has it), and at least half a
  // window is drawn: the very start of a session is left to the raw line rather than measured over a sliver of time.
  const lengths = spans.map((s) => s.to - s.from).sort((a, b) => a - b)
  const window = Math.min(span, Math.max(span / 30, 4 * lengths[Math.floor(lengths.length / 2)], 1_000))
  const step = Math.max((span - window / 2) / GRID_POINTS, 100)
  for (let x = first + window / 2; x <= last + 1e-6; x += step) {
    const from = Math.max(first, x - window)
    rows.push({ x, smoothed: ((made(x) - made(from)) * 1000) / (x - from) })
  }
  return committed
}

/**
 * A session's pace (items/ms) while its workers are busy. Each of its K workers is busy from the end of start-up
 * (loading the job) to its last commit, and in that time makes exactly the items it committed; the last K commits are
 * about one per worker, and start-up ends when the first commit's range began. So R = (items − K·n₀) / (mean of the
 * last K commits' times − t₀), with t₀ and n₀ the first commit. The items after the first commit over the time after it
 * would count the other workers' ranges begun before it as made after it (seen 5% high with 6 workers).
 */
function paceOf(commits, parallel, start) {
  const first = commits[0]
  const lastOnes = commits.slice(-parallel)
  const meanLast = lastOnes.reduce((sum, c) => sum + c.t, 0) / lastOnes.length
  const items = commits.reduce((sum, c) => sum + c.n, 0)
  const made = items - parallel * first.n
  if (commits.length >= 2 * parallel && made > 0 && meanLast > first.t) return made / (meanLast - first.t)
  const lastCommit = commits.at(-1).t
  return lastCommit > first.t ? (items - first.n) / (lastCommit - first.t) : items / (lastCommit - start)
}
