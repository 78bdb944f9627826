"""Short noisy videos of a disc moving in one of four ways, labelled by the motion:
0 linear, 1 circular, 2 helical (a 3-D helix seen from the side), 3 parabolic.
Written as .npy shards: video (N, frames, size, size) uint8 and label (N,) uint8.

    npx longhaul run examples/trajectories-py/gen.py --out runs/trajectories-py --workers 2
"""
import longhaul
from motion import DEFAULT_NOISE, MOTIONS, make_clip


def item(index, ctx):
    """Item `index` is a clip of motion `index % 4`, so the classes are exactly balanced whenever
    the total is a multiple of 4. Everything else (start, speed, direction, radius, phase, noise)
    comes from the item's own generator, ctx.rng, which depends on (seed, index) only."""
    label = index % len(MOTIONS)
    p = ctx.params
    video = make_clip(MOTIONS[label], ctx.rng, p["frames"], p["size"], p["noise"])
    return {"video": video, "label": label}


def validate(record, index):
    """Preflight runs this on every rehearsal item, read back from the .npy shards as open_run gives it."""
    expected = index % len(MOTIONS)
    if record["label"] != expected:
        return f"label {record['label']}, expected {expected}"
    if record["video"].ndim != 3:
        return f"video has shape {record['video'].shape}, expected (frames, size, size)"
    return True


job = longhaul.define_job(
    name="trajectories-py",
    total=2000,
    item=item,
    params={"frames": 16, "size": 64, "noise": DEFAULT_NOISE},
    output=longhaul.npy({"video": "uint8", "label": "uint8"}),
    validate=validate,
)
