"""Trajectories of a moving disc, and the noisy video of one (numpy only).

The same four motions, framing, rendering and noise as examples/trajectories/motion.ts.
A clip is made in three steps; each depends only on its arguments (the rng included):
  1. `trajectory`   draws the motion's parameters from the rng and computes the disc's
                    centre in every frame, in pixels;
  2. `fit_in_frame` scales and shifts those centres so the whole disc, radius included,
                    stays inside the frame with a margin, in every frame;
  3. `render_clean` + `add_noise` paint the disc (anti-aliased) and add Gaussian noise,
                    giving a `frames × size × size` uint8 array.

Pixel (row i, column j) covers [j, j+1) × [i, i+1); x grows to the right, y downwards.
"""
import math

import numpy as np

# The motion classes; a clip's label is its position in this tuple.
MOTIONS = ("linear", "circular", "helical", "parabolic")

# Grey levels of the empty frame and of the disc before noise.
BACKGROUND = 40
FOREGROUND = 215

# Noise standard deviation as a fraction of the full 0..255 range.
DEFAULT_NOISE = 0.2


def margin_for(size):
    """Empty pixels kept between the disc and the frame's edge."""
    return max(1, math.floor(size / 32 + 0.5))


def trajectory(motion, rng, frames, size):
    """The disc's centres (xs, ys: one per frame, in pixels) and its radius, framed; drawn from `rng` alone."""
    radius = rng.uniform(size / 16, size / 9)
    path = PATHS[motion](rng, size)
    # Clip time u runs 0 → 1 whatever the frame count, so the shape of a motion does not depend on it.
    u = np.linspace(0.0, 1.0, frames) if frames > 1 else np.zeros(1)
    xs, ys = path(u)
    xs, ys = fit_in_frame(xs, ys, radius, size)
    return xs, ys, radius


# Each motion draws its parameters (in pixels, relative to the frame size) and returns
# its path: u (an array of clip times in [0, 1]) -> (xs, ys).


def linear(rng, size):
    x0, y0 = rng.uniform(0, size, 2)
    direction = rng.uniform(0, 2 * math.pi)
    distance = rng.uniform(0.4, 0.9) * size
    return lambda u: (x0 + distance * u * math.cos(direction), y0 + distance * u * math.sin(direction))


def circular(rng, size):
    cx, cy = rng.uniform(0, size, 2)
    r = rng.uniform(0.15, 0.35) * size
    phase = rng.uniform(0, 2 * math.pi)
    # Three quarters of a turn to a full turn, either way round.
    sweep = rng.uniform(1.5 * math.pi, 2 * math.pi) * sign(rng)
    return lambda u: (cx + r * np.cos(phase + sweep * u), cy + r * np.sin(phase + sweep * u))


def helical(rng, size):
    # A helix around the z axis, tilted by `tilt` about the x axis, seen along z (orthographic),
    # then turned by `turn` in the image plane: loops that drift along the projected axis.
    x0, y0 = rng.uniform(0, size, 2)
    r = rng.uniform(0.12, 0.22) * size
    length = rng.uniform(0.5, 1) * size
    sweep = rng.uniform(1.25, 2) * 2 * math.pi * sign(rng)
    phase = rng.uniform(0, 2 * math.pi)
    tilt = rng.uniform(0.5, 1.1)
    turn = rng.uniform(0, 2 * math.pi)

    def path(u):
        angle = phase + sweep * u
        hx = r * np.cos(angle)
        hy = r * np.sin(angle) * math.cos(tilt) - length * u * math.sin(tilt)
        return x0 + hx * math.cos(turn) - hy * math.sin(turn), y0 + hx * math.sin(turn) + hy * math.cos(turn)

    return path


def parabolic(rng, size):
    # A throw under gravity (image y points down): launched upwards at 30°–150°,
    # reaching the top of its arc between 35% and 65% of the clip.
    x0, y0 = rng.uniform(0, size, 2)
    speed = rng.uniform(0.6, 1.1) * size
    angle = rng.uniform(math.pi / 6, 5 * math.pi / 6)
    apex_at = rng.uniform(0.35, 0.65)
    vx, vy = speed * math.cos(angle), -speed * math.sin(angle)
    gravity = -vy / apex_at
    return lambda u: (x0 + vx * u, y0 + vy * u + 0.5 * gravity * u * u)


PATHS = {"linear": linear, "circular": circular, "helical": helical, "parabolic": parabolic}


def fit_in_frame(xs, ys, radius, size):
    """Scales the centres (uniformly, about their bounding box's centre) only if they span more than
    the frame allows, then shifts them as little as needed, so that every centre lies within
    [margin + radius, size - margin - radius]. A trajectory that already fits is left where it is."""
    low = margin_for(size) + radius
    room = size - 2 * low
    span = max(np.ptp(xs), np.ptp(ys))
    scale = room / span if span > room else 1.0
    return place_axis(xs, scale, low, room), place_axis(ys, scale, low, room)


def place_axis(values, scale, low, room):
    centre = (values.min() + values.max()) / 2
    half_span = np.ptp(values) * scale / 2
    wanted = min(max(centre, low + half_span), low + room - half_span)
    return wanted + (values - centre) * scale


def render_clean(xs, ys, radius, size):
    """The clip's pixels before noise, `frames × size × size` grey levels as floats. The disc is
    anti-aliased: a pixel's coverage falls linearly from 1 to 0 across the half pixel either side of the rim."""
    centres = np.arange(size) + 0.5  # pixel centres, along either axis
    dx = centres[None, None, :] - xs[:, None, None]
    dy = centres[None, :, None] - ys[:, None, None]
    coverage = np.clip(radius + 0.5 - np.hypot(dx, dy), 0, 1)
    return BACKGROUND + (FOREGROUND - BACKGROUND) * coverage


def add_noise(clean, noise, rng):
    """Adds Gaussian noise of standard deviation `noise × 255` to every pixel, then rounds and clips to 0..255."""
    noisy = clean + rng.normal(0.0, noise * 255, clean.shape)
    return np.clip(np.rint(noisy), 0, 255).astype(np.uint8)


def make_clip(motion, rng, frames, size, noise=DEFAULT_NOISE):
    """One clip: a `frames × size × size` uint8 array."""
    xs, ys, radius = trajectory(motion, rng, frames, size)
    return add_noise(render_clean(xs, ys, radius, size), noise, rng)


def sign(rng):
    return -1 if rng.random() < 0.5 else 1
