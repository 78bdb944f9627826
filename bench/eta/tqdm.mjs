// tqdm's ETA, rebuilt for comparison: what a default `tqdm(total=N)` would
// show if `update(1)` were called as each item completes.
//
// Where it comes from (tqdm 4.x; re-implemented here, not copied):
// - the `EMA` class (defined in tqdm/std.py in recent 4.x releases):
//   last ← α·x + (1−α)·last, calls += 1, value = last / (1 − (1−α)^calls),
//   i.e. an exponential moving average corrected for its zero start; α is
//   `smoothing`, 0.3 by default;
// - `tqdm.update` (tqdm/std.py): once at least `miniters` items have come in
//   since the last print and at least `mininterval` (0.1 s) has passed, it
//   feeds dn (items since the last print) to one EMA and dt (seconds since
//   the last print) to another, redraws, and with the default
//   `miniters=None` adjusts `miniters` ("dynamic miniters": an EMA of
//   dn·mininterval/dt, or dn·mininterval/dt alone after a gap of
//   `maxinterval`, 10 s);
// - the monitor thread (tqdm/_monitor.py) wakes every 10 s and sets
//   `miniters` back to 1 when nothing was printed for `maxinterval`;
// - `format_dict` / `format_meter`: rate = EMA(dn) / EMA(dt) (the overall
//   average n/elapsed before the first EMA update), remaining = (total − n) / rate.

/** tqdm's EMA: exponential moving average with the bias of its zero start removed. */
export class Ema {
  constructor(alpha = 0.3) {
    this.alpha = alpha
    this.last = 0
    this.calls = 0
  }

  add(x) {
    this.last = this.alpha * x + (1 - this.alpha) * this.last
    this.calls++
  }

  get value() {
    return this.calls ? this.last / (1 - (1 - this.alpha) ** this.calls) : this.last
  }
}

/** A default tqdm bar driven by simulated time (seconds since the bar was created). */
export class TqdmBar {
  constructor(total, { smoothing = 0.3, mininterval = 0.1, maxinterval = 10 } = {}) {
    this.total = total
    this.smoothing = smoothing
    this.mininterval = mininterval
    this.maxinterval = maxinterval
    this.n = 0
    this.lastPrintN = 0
    this.lastPrintT = 0
    this.miniters = 0
    this.emaDn = new Ema(smoothing)
    this.emaDt = new Ema(smoothing)
    this.emaMiniters = new Ema(smoothing)
  }

  /** `update(1)` at time `t`. */
  update(t) {
    this.n++
    if (this.n - this.lastPrintN < this.miniters) return
    const dt = t - this.lastPrintT
    if (dt < this.mininterval) return
    const dn = this.n - this.lastPrintN
    if (dt && dn) {
      this.emaDn.add(dn)
      this.emaDt.add(dt)
    }
    if (dt >= this.maxinterval) this.miniters = (dn * this.mininterval) / dt
    else {
      this.emaMiniters.add(dt ? (dn * this.mininterval) / dt : dn)
      this.miniters = this.emaMiniters.value
    }
    this.lastPrintN = this.n
    this.lastPrintT = t
  }

  /** The monitor thread's wake-up at time `t`. */
  monitor(t) {
    if (this.miniters > 1 && t - this.lastPrintT >= this.maxinterval) this.miniters = 1
  }

  /** Remaining seconds as `format_meter` computes them at time `t`, or null when it would show '?'. */
  remainingAt(t) {
    const rate = this.emaDt.value ? this.emaDn.value / this.emaDt.value : t ? this.n / t : 0
    return rate ? (this.total - this.n) / rate : null
  }
}
