// Lets a bench see the moment an item is made, from inside the worker thread
// that made it: items BENCH_ANNOUNCE_FROM … +15 (env, read when the job is
// loaded) post { made, at } on the 'longhaul-bench' BroadcastChannel, which
// reaches every thread of the process. `at` is milliseconds since the epoch
// with sub-millisecond precision (performance.timeOrigin + performance.now()),
// comparable across threads.
const from = Number(process.env.BENCH_ANNOUNCE_FROM ?? Number.NaN)
const ANNOUNCED = 16
let channel: BroadcastChannel | undefined

export function announce(index: number): void {
  if (!(index >= from && index < from + ANNOUNCED)) return
  if (!channel) {
    channel = new BroadcastChannel('longhaul-bench')
    ;(channel as BroadcastChannel & { unref(): void }).unref()
  }
  channel.postMessage({ made: index, at: performance.timeOrigin + performance.now() })
}
