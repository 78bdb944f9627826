"""Train a motion classifier on the trajectories dataset, resumably (numpy only).

Finds the moving disc in every frame, turns its path into a few shape features
(how straight, how curved, how much it turns) and fits a softmax regression over
the four motions with minibatch gradient descent. Checkpoints are durable
(longhaul.save_atomic) and reported to `longhaul exec`; a run killed at any
moment and resumed from any checkpoint ends with bit-identical weights.

    python3 examples/python-training/train.py --data runs/trajectories --out runs/training
"""
from __future__ import annotations

import argparse
import hashlib
import re
import sys
import time
from pathlib import Path
from typing import NamedTuple

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT / "python"), str(ROOT / "examples" / "trajectories")]
import longhaul  # noqa: E402
from load import shards  # noqa: E402  (examples/trajectories/load.py)

CLASSES = ("linear", "circular", "helical", "parabolic")
BATCH_SIZE = 100
KEEP_CHECKPOINTS = 3
BOX = 9  # side of the box filter that finds the disc (radius 4..7 px at 64 px); beats the noise well
CHECKPOINT_NAME = re.compile(r"epoch-(\d+)\.npz")


class UsageError(Exception):
    """A problem the user can fix; reported as one line on stderr with exit code 2."""


class Dataset(NamedTuple):
    features: np.ndarray  # (N, F) float64, standardised with the training items' mean and std
    labels: np.ndarray  # (N,) int64
    train: np.ndarray  # indices of training items
    held_out: np.ndarray  # every 5th item, never trained on
    mean: np.ndarray
    std: np.ndarray
    digest: str  # sha256 of features and labels; a checkpoint is only valid for the same data


class State(NamedTuple):
    weights: np.ndarray  # (F, classes)
    bias: np.ndarray  # (classes,)
    epoch: int  # epochs completed


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[1],
        epilog="Under longhaul exec, progress, metrics and checkpoints are reported to the supervisor, "
        "which restarts a crashed run from the newest checkpoint (--resume or LONGHAUL_RESUME_FROM). "
        "Outside longhaul the script runs the same, without the reports.",
    )
    parser.add_argument("--data", type=Path, required=True, help="output folder of `longhaul run examples/trajectories/job.ts`")
    parser.add_argument("--out", type=Path, required=True, help="writes checkpoints/epoch-NNNNN.npz and model.npz here")
    parser.add_argument("--epochs", type=int, default=60, help="epochs to train in total, counting those a resumed checkpoint has done (default: %(default)s)")
    parser.add_argument("--checkpoint-every", type=int, default=5, metavar="EPOCHS", help="write a checkpoint every this many epochs; the newest 3 are kept (default: %(default)s)")
    parser.add_argument("--lr", type=float, default=0.5, help="learning rate (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=0, help="seeds the initial weights and each epoch's shuffle (default: %(default)s)")
    parser.add_argument("--resume", type=Path, metavar="PATH", help="continue from this checkpoint (default: $LONGHAUL_RESUME_FROM, if set)")
    parser.add_argument("--step-delay", type=float, default=0.0, metavar="SECONDS", help="sleep after each epoch, to leave time to kill the run (default: %(default)s)")
    args = parser.parse_args(argv)
    if args.epochs < 1 or args.checkpoint_every < 1:
        parser.error("--epochs and --checkpoint-every must be at least 1")
    return args


def load_dataset(run_dir: Path) -> Dataset:
    if not (run_dir / "data" / "index.json").is_file():
        raise UsageError(
            f"no trajectories dataset in {run_dir} ({run_dir / 'data' / 'index.json'} is missing); create it with "
            f"`npx longhaul preflight examples/trajectories/job.ts --target 2000 --out {run_dir}` then "
            f"`npx longhaul run examples/trajectories/job.ts --out {run_dir} --total 2000`"
        )
    xs, ys, labels = [], [], []
    for _, video, label in shards(run_dir):
        x, y = disc_centres(np.asarray(video))
        xs.append(x)
        ys.append(y)
        labels.append(np.asarray(label, dtype=np.int64))
    raw, label = path_features(np.concatenate(xs), np.concatenate(ys)), np.concatenate(labels)
    held = np.arange(len(label)) % 5 == 0
    mean, std = raw[~held].mean(0), raw[~held].std(0) + 1e-12
    features = (raw - mean) / std
    digest = hashlib.sha256(features.tobytes() + label.tobytes()).hexdigest()
    return Dataset(features, label, np.flatnonzero(~held), np.flatnonzero(held), mean, std, digest)


def disc_centres(video: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Disc centre per frame, as fractions of the frame size: (N, frames) x and y.

    The brightest BOX × BOX window (a box filter via summed-area tables, so the
    noise averages out), refined to sub-pixel by the centroid of the 3 × 3 window
    responses around it.
    """
    n, frames, size, _ = video.shape
    sums = np.zeros((n * frames, size + 1, size + 1), np.int32)
    np.cumsum(video.reshape(n * frames, size, size), axis=1, dtype=np.int32, out=sums[:, 1:, 1:])
    np.cumsum(sums[:, 1:, 1:], axis=2, out=sums[:, 1:, 1:])
    response = sums[:, BOX:, BOX:] - sums[:, :-BOX, BOX:] - sums[:, BOX:, :-BOX] + sums[:, :-BOX, :-BOX]
    row, col = np.divmod(response.reshape(len(response), -1).argmax(1), response.shape[2])
    padded = np.pad(response.astype(np.float64), ((0, 0), (1, 1), (1, 1)), mode="edge")
    frame = np.arange(len(response))[:, None, None]
    offsets = np.arange(3)
    window = padded[frame, row[:, None, None] + offsets[:, None], col[:, None, None] + offsets]
    window -= window.min(axis=(1, 2), keepdims=True)
    total = window.sum(axis=(1, 2)) + 1e-12
    dy = (window.sum(2) @ (offsets - 1)) / total
    dx = (window.sum(1) @ (offsets - 1)) / total
    x = (col + dx + BOX / 2) / size
    y = (row + dy + BOX / 2) / size
    return x.reshape(n, frames), y.reshape(n, frames)


def path_features(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Shape features of each path that do not depend on where it is or which way it points."""
    eps = 1e-3
    t = np.linspace(0, 1, x.shape[1])
    points = np.concatenate([x, y]).T  # (frames, 2N): polynomial fits of every coordinate at once

    def fit(degree: int) -> tuple[np.ndarray, np.ndarray]:
        basis = np.vander(t, degree + 1)
        coef = np.linalg.lstsq(basis, points, rcond=None)[0]
        residual = (points - basis @ coef) ** 2
        return np.sqrt((residual[:, : len(x)] + residual[:, len(x) :]).mean(0)), coef

    line_error, _ = fit(1)  # ~0 for linear
    parabola_error, coef = fit(2)  # ~0 for linear and parabolic
    acceleration = np.hypot(coef[0, : len(x)], coef[0, len(x) :])  # ~0 for linear
    vx, vy = np.diff(x, axis=1), np.diff(y, axis=1)
    speed = np.hypot(vx, vy)
    turn = (np.diff(np.arctan2(vy, vx), axis=1) + np.pi) % (2 * np.pi) - np.pi  # heading change per frame
    length = speed.sum(1)
    straightness = np.hypot(x[:, -1] - x[:, 0], y[:, -1] - y[:, 0]) / (length + eps)
    return np.stack([
        np.log(line_error + eps), np.log(parabola_error + eps), np.log(acceleration + eps),
        np.abs(turn.sum(1)), np.abs(turn).sum(1), turn.std(1),  # circles turn steadily, helices unevenly
        speed.std(1) / (speed.mean(1) + eps), straightness, np.log(length + eps),
    ], axis=1)


def softmax(logits: np.ndarray) -> np.ndarray:
    exp = np.exp(logits - logits.max(1, keepdims=True))
    return exp / exp.sum(1, keepdims=True)


def train_epoch(state: State, data: Dataset, lr: float, seed: int) -> State:
    """One pass over the training items in an order drawn from (seed, epoch) alone."""
    epoch = state.epoch + 1
    order = np.random.default_rng([seed, epoch]).permutation(data.train)
    weights, bias = state.weights.copy(), state.bias.copy()
    targets = np.eye(len(CLASSES))[data.labels]
    for batch in np.array_split(order, max(1, len(order) // BATCH_SIZE)):
        gradient = (softmax(data.features[batch] @ weights + bias) - targets[batch]) / len(batch)
        weights -= lr * data.features[batch].T @ gradient
        bias -= lr * gradient.sum(0)
    return State(weights, bias, epoch)


def evaluate(state: State, data: Dataset) -> tuple[float, float, float]:
    """Training loss (cross-entropy), training accuracy and held-out accuracy."""
    probs = softmax(data.features @ state.weights + state.bias)
    train, held = data.train, data.held_out
    loss = -np.log(probs[train, data.labels[train]] + 1e-12).mean()
    correct = probs.argmax(1) == data.labels
    return float(loss), float(correct[train].mean()), float(correct[held].mean())


def initial_state(features: int, seed: int) -> State:
    weights = np.random.default_rng(seed).normal(0, 0.01, (features, len(CLASSES)))
    return State(weights, np.zeros(len(CLASSES)), 0)


def save_checkpoint(folder: Path, state: State, args: argparse.Namespace, data: Dataset) -> str:
    """Writes epoch-NNNNN.npz durably, then drops all but the newest few (never before the new one is on disk)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = longhaul.save_atomic(folder / f"epoch-{state.epoch:05}.npz", lambda f: np.savez(
        f, weights=state.weights, bias=state.bias, epoch=state.epoch, seed=args.seed, lr=args.lr, data_digest=data.digest,
    ))
    epochs = sorted(int(m[1]) for p in folder.iterdir() if (m := CHECKPOINT_NAME.fullmatch(p.name)))
    # Anything past this epoch is left from an earlier, longer run in the same folder.
    stale = [e for e in epochs if e > state.epoch] + [e for e in epochs if e <= state.epoch][:-KEEP_CHECKPOINTS]
    for epoch in stale:
        (folder / f"epoch-{epoch:05}.npz").unlink(missing_ok=True)
    return path


def load_checkpoint(path: Path, args: argparse.Namespace, data: Dataset) -> State:
    """The state saved in `path`, refused (UsageError) if unreadable or made with other settings or data."""
    if not path.is_file():
        raise UsageError(f"cannot resume: checkpoint {path} does not exist")
    try:
        with np.load(path, allow_pickle=False) as saved:
            state = State(saved["weights"], saved["bias"], int(saved["epoch"]))
            made_with = {"--seed": int(saved["seed"]), "--lr": float(saved["lr"]), "data": str(saved["data_digest"])}
    except Exception as error:  # a torn or foreign file fails in many ways (zip, CRC, missing key, dtype)
        raise UsageError(f"cannot resume: checkpoint {path} is unreadable or corrupt ({type(error).__name__}: {error})") from error
    expected = {"--seed": args.seed, "--lr": args.lr, "data": data.digest}
    changed = [f"{key} {made_with[key]} (now {expected[key]})" for key in expected if made_with[key] != expected[key]]
    if changed:
        raise UsageError(f"cannot resume: checkpoint {path} was made with {', '.join(changed)}; use the same settings and data, or start without --resume")
    if state.weights.shape != (data.features.shape[1], len(CLASSES)) or state.bias.shape != (len(CLASSES),):
        raise UsageError(f"cannot resume: checkpoint {path} holds weights of shape {state.weights.shape}, expected {(data.features.shape[1], len(CLASSES))}")
    if state.epoch > args.epochs:
        raise UsageError(f"cannot resume: checkpoint {path} is at epoch {state.epoch}, past --epochs {args.epochs}")
    return state


def weights_digest(state: State) -> str:
    return hashlib.sha256(np.ascontiguousarray(state.weights).tobytes() + np.ascontiguousarray(state.bias).tobytes()).hexdigest()


def main(args: argparse.Namespace) -> None:
    started = time.monotonic()
    data = load_dataset(args.data)
    print(f"{len(data.labels)} items ({len(data.train)} train, {len(data.held_out)} held out), "
          f"{data.features.shape[1]} features, loaded in {time.monotonic() - started:.1f}s", flush=True)
    resume = args.resume or longhaul.resume_from()
    if resume:
        state = load_checkpoint(Path(resume), args, data)
        print(f"resuming from {resume} after epoch {state.epoch}", flush=True)
        longhaul.log(f"resuming from {resume} after epoch {state.epoch}")
    else:
        state = initial_state(data.features.shape[1], args.seed)
    checkpoints = args.out / "checkpoints"
    while state.epoch < args.epochs:
        state = train_epoch(state, data, args.lr, args.seed)
        loss, train_accuracy, accuracy = evaluate(state, data)
        longhaul.progress(state.epoch, total=args.epochs, unit="epoch")
        longhaul.metric("loss", loss, step=state.epoch)
        longhaul.metric("accuracy", accuracy, step=state.epoch)
        line = f"epoch {state.epoch:3}/{args.epochs}  loss {loss:.4f}  train acc {train_accuracy:.3f}  held-out acc {accuracy:.3f}"
        if state.epoch % args.checkpoint_every == 0:
            path = save_checkpoint(checkpoints, state, args, data)
            longhaul.checkpoint(path, step=state.epoch)
            line += f"  checkpoint {Path(path).name}"
        print(line, flush=True)
        if args.step_delay > 0:
            time.sleep(args.step_delay)
    args.out.mkdir(parents=True, exist_ok=True)
    model = longhaul.save_atomic(args.out / "model.npz", lambda f: np.savez(
        f, weights=state.weights, bias=state.bias, feature_mean=data.mean, feature_std=data.std, classes=np.array(CLASSES), epoch=state.epoch,
    ))
    _, train_accuracy, accuracy = evaluate(state, data)
    print(f"final accuracy: {accuracy:.3f} held out ({len(data.held_out)} items), {train_accuracy:.3f} train; model {model}")
    print(f"weights sha256: {weights_digest(state)}")
    print(f"done in {time.monotonic() - started:.1f}s", flush=True)


if __name__ == "__main__":
    try:
        main(parse_args())
    except UsageError as error:
        print(f"train.py: error: {error}", file=sys.stderr)
        sys.exit(2)
