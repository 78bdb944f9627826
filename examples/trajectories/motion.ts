/**
 * Trajectories of a moving disc, and the noisy video of one.
 *
 * A clip is made in three steps; each depends only on its arguments (the rng
 * included), never on shared state:
 *   1. `trajectory`   draws the motion's parameters from the rng and computes the
 *                     disc's centre in every frame, in pixels;
 *   2. `fitInFrame`   scales and shifts those centres so the whole disc, radius
 *                     included, stays inside the frame with a margin, in every frame;
 *   3. `renderClean` + `addNoise` paint the disc (anti-aliased) and add Gaussian
 *                     noise, giving `frames × size × size` uint8 pixels.
 *
 * Pixel (row i, column j) covers [j, j+1) × [i, i+1); x grows to the right, y downwards.
 */
import type { Rng } from 'longhaul'

/** The motion classes; a clip's label is its position in this list. */
export const MOTIONS = ['linear', 'circular', 'helical', 'parabolic'] as const
export type Motion = (typeof MOTIONS)[number]

/** Grey levels of the empty frame and of the disc before noise. */
export const BACKGROUND = 40
export const FOREGROUND = 215

/** Noise standard deviation as a fraction of the full 0..255 range. */
export const DEFAULT_NOISE = 0.2

export interface ClipShape {
  readonly frames: number
  readonly size: number
}

/** Where the disc is in each frame. */
export interface Trajectory {
  readonly motion: Motion
  /** Disc centre per frame, in pixels. */
  readonly xs: Float64Array
  readonly ys: Float64Array
  /** Disc radius in pixels, the same in every frame. */
  readonly radius: number
}

/** Empty pixels kept between the disc and the frame's edge. */
export function marginFor(size: number): number {
  return Math.max(1, Math.round(size / 32))
}

/** A framed trajectory of the given motion; its parameters come from `rng` alone. */
export function trajectory(motion: Motion, rng: Rng, { frames, size }: ClipShape): Trajectory {
  const radius = between(rng, size / 16, size / 9)
  const xs = new Float64Array(frames)
  const ys = new Float64Array(frames)
  const path = PATHS[motion](rng, size)
  for (let t = 0; t < frames; t++) {
    // Clip time u runs 0 → 1 whatever the frame count, so the shape of a motion does not depend on it.
    const [x, y] = path(frames === 1 ? 0 : t / (frames - 1))
    xs[t] = x
    ys[t] = y
  }
  fitInFrame(xs, ys, radius, size)
  return { motion, xs, ys, radius }
}

type Path = (u: number) => readonly [x: number, y: number]

/** Each motion draws its parameters (in pixels, relative to the frame size) and returns its path over clip time u ∈ [0, 1]. */
const PATHS: Record<Motion, (rng: Rng, size: number) => Path> = {
  linear(rng, size) {
    const [x0, y0] = [between(rng, 0, size), between(rng, 0, size)]
    const direction = between(rng, 0, 2 * Math.PI)
    const distance = between(rng, 0.4, 0.9) * size
    return (u) => [x0 + distance * u * Math.cos(direction), y0 + distance * u * Math.sin(direction)]
  },

  circular(rng, size) {
    const [cx, cy] = [between(rng, 0, size), between(rng, 0, size)]
    const r = between(rng, 0.15, 0.35) * size
    const phase = between(rng, 0, 2 * Math.PI)
    // Three quarters of a turn to a full turn, either way round.
    const sweep = between(rng, 1.5 * Math.PI, 2 * Math.PI) * sign(rng)
    return (u) => [cx + r * Math.cos(phase + sweep * u), cy + r * Math.sin(phase + sweep * u)]
  },

  helical(rng, size) {
    // A helix around the z axis, tilted by `tilt` about the x axis, seen along z (orthographic),
    // then turned by `turn` in the image plane: loops that drift along the projected axis.
    const [x0, y0] = [between(rng, 0, size), between(rng, 0, size)]
    const r = between(rng, 0.12, 0.22) * size
    const length = between(rng, 0.5, 1) * size
    const sweep = between(rng, 1.25, 2) * 2 * Math.PI * sign(rng)
    const phase = between(rng, 0, 2 * Math.PI)
    const tilt = between(rng, 0.5, 1.1)
    const turn = between(rng, 0, 2 * Math.PI)
    const [cosTilt, sinTilt, cosTurn, sinTurn] = [Math.cos(tilt), Math.sin(tilt), Math.cos(turn), Math.sin(turn)]
    return (u) => {
      const angle = phase + sweep * u
      const hx = r * Math.cos(angle)
      const hy = r * Math.sin(angle) * cosTilt - length * u * sinTilt
      return [x0 + hx * cosTurn - hy * sinTurn, y0 + hx * sinTurn + hy * cosTurn]
    }
  },

  parabolic(rng, size) {
    // A throw under gravity (image y points down): launched upwards at 30°–150°,
    // reaching the top of its arc between 35% and 65% of the clip.
    const [x0, y0] = [between(rng, 0, size), between(rng, 0, size)]
    const speed = between(rng, 0.6, 1.1) * size
    const angle = between(rng, Math.PI / 6, (5 * Math.PI) / 6)
    const apexAt = between(rng, 0.35, 0.65)
    const [vx, vy] = [speed * Math.cos(angle), -speed * Math.sin(angle)]
    const gravity = -vy / apexAt
    return (u) => [x0 + vx * u, y0 + vy * u + 0.5 * gravity * u * u]
  },
}

/**
 * Scales the centres (uniformly, about their bounding box's centre) only if
 * they span more than the frame allows, then shifts them as little as needed,
 * so that every centre lies within [margin + radius, size - margin - radius].
 * A trajectory that already fits is left where it is.
 */
export function fitInFrame(xs: Float64Array, ys: Float64Array, radius: number, size: number): void {
  const low = marginFor(size) + radius
  const room = size - 2 * low
  const [xMin, xMax] = extent(xs)
  const [yMin, yMax] = extent(ys)
  const span = Math.max(xMax - xMin, yMax - yMin)
  const scale = span > room ? room / span : 1
  placeAxis(xs, xMin, xMax, scale, low, room)
  placeAxis(ys, yMin, yMax, scale, low, room)
}

function placeAxis(values: Float64Array, min: number, max: number, scale: number, low: number, room: number): void {
  const centre = (min + max) / 2
  const halfSpan = ((max - min) * scale) / 2
  const wanted = clamp(centre, low + halfSpan, low + room - halfSpan)
  for (let i = 0; i < values.length; i++) values[i] = wanted + (values[i]! - centre) * scale
}

/** The clip's pixels before noise, `frames × size × size`, grey levels 0..255 as floats. */
export function renderClean({ xs, ys, radius }: Trajectory, size: number): Float32Array {
  const pixels = new Float32Array(xs.length * size * size).fill(BACKGROUND)
  for (let t = 0; t < xs.length; t++)
    paintDisc(pixels.subarray(t * size * size, (t + 1) * size * size), size, xs[t]!, ys[t]!, radius)
  return pixels
}

/** An anti-aliased disc: a pixel's coverage falls linearly from 1 to 0 across the half pixel either side of the rim. */
function paintDisc(frame: Float32Array, size: number, cx: number, cy: number, radius: number): void {
  const reach = radius + 0.5
  const [rowFirst, rowLast] = [Math.max(0, Math.floor(cy - reach)), Math.min(size - 1, Math.ceil(cy + reach))]
  const [colFirst, colLast] = [Math.max(0, Math.floor(cx - reach)), Math.min(size - 1, Math.ceil(cx + reach))]
  for (let row = rowFirst; row <= rowLast; row++) {
    const dy = row + 0.5 - cy
    for (let col = colFirst; col <= colLast; col++) {
      const dx = col + 0.5 - cx
      const coverage = clamp(reach - Math.sqrt(dx * dx + dy * dy), 0, 1)
      frame[row * size + col] = BACKGROUND + (FOREGROUND - BACKGROUND) * coverage
    }
  }
}

/**
 * Adds Gaussian noise of standard deviation `noise × 255` to every pixel, then
 * rounds and clips to 0..255. Marsaglia's polar method gives two normal values
 * per accepted point of the unit disc, with no trigonometry; the 53 random bits
 * of one `rng.next()` give the point's two coordinates (27 and 26 bits, plenty
 * for 8-bit pixels).
 */
export function addNoise(clean: Float32Array, noise: number, rng: Rng): Uint8Array {
  const out = new Uint8Array(clean.length)
  const clipped = new Uint8ClampedArray(out.buffer) // assigning to it rounds and clips to 0..255
  const sd = noise * 255
  for (let i = 0; i < clean.length; i += 2) {
    let u: number, v: number, s: number
    do {
      const bits = rng.next() * 2 ** 53
      const high = Math.floor(bits / 2 ** 26)
      u = high / 2 ** 26 - 1 // in [-1, 1)
      v = (bits - high * 2 ** 26) / 2 ** 25 - 1 // in [-1, 1)
      s = u * u + v * v
    } while (s >= 1 || s === 0)
    const scale = sd * Math.sqrt((-2 * Math.log(s)) / s)
    clipped[i] = clean[i]! + scale * u
    if (i + 1 < clean.length) clipped[i + 1] = clean[i + 1]! + scale * v
  }
  return out
}

/** One clip: `frames × size × size` uint8, row-major, frame after frame. */
export function makeClip(motion: Motion, rng: Rng, shape: ClipShape, noise = DEFAULT_NOISE): Uint8Array {
  return addNoise(renderClean(trajectory(motion, rng, shape), shape.size), noise, rng)
}

function between(rng: Rng, low: number, high: number): number {
  return low + (high - low) * rng.next()
}

function sign(rng: Rng): 1 | -1 {
  return rng.next() < 0.5 ? -1 : 1
}

function clamp(value: number, low: number, high: number): number {
  return Math.min(high, Math.max(low, value))
}

function extent(values: Float64Array): [min: number, max: number] {
  let [min, max] = [Infinity, -Infinity]
  for (const v of values) [min, max] = [Math.min(min, v), Math.max(max, v)]
  return [min, max]
}
