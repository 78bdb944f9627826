"""Report progress, checkpoints and metrics to a `longhaul exec` supervisor.

`longhaul exec -- CMD` sets LONGHAUL_EVENTS (a file-descriptor number, "3", or
a file path) and, after a crash, LONGHAUL_RESUME_FROM (the newest checkpoint).
Every call here writes one JSON line there. Outside longhaul LONGHAUL_EVENTS is
unset and every call is a no-op, so a script runs unchanged.

A file descriptor is written to only once it is proved to be the supervisor's
channel: a FIFO whose device:inode is LONGHAUL_EVENTS_ID, checked before every
write. A subprocess inherits the environment but not fd 3 (there it may be the
user's data file, or multiprocessing's own pipe): there every call is a no-op.
Reporting never raises because the supervisor went away: the first failed write
turns reporting off. Standard library only; copy this file next to your script.

    import longhaul
    import numpy as np

    w, start = np.zeros(10), 0
    if longhaul.resume_from():  # set by the supervisor after a crash
        with np.load(longhaul.resume_from()) as saved:
            w, start = saved["w"], int(saved["step"])
    for step in range(start + 1, 101):
        w, loss = train_one_step(w)
        longhaul.progress(step, total=100, unit="step")
        longhaul.metric("loss", loss, step=step)
        path = longhaul.save_atomic(f"ckpt/step-{step:05}.npz", lambda f: np.savez(f, w=w, step=step))
        longhaul.checkpoint(path, step=step)  # only once the file is durable
"""
from __future__ import annotations

import contextlib
import errno
import json
import math
import operator
import os
import stat
import sys
import tempfile
import threading
from typing import IO, Any, Callable, Optional, Union

__all__ = ["progress", "checkpoint", "metric", "log", "resume_from", "save_atomic"]

Number = Union[int, float]
PathLike = Union[str, "os.PathLike[str]"]

_lock = threading.Lock()
_target: Optional[str] = None  # the LONGHAUL_EVENTS value _fd was opened for
_fd: Optional[int] = None  # None: reporting is off for _target
_owned = False  # True when we opened _fd from a path (and may close it)
_warned = False  # the one note about a channel that cannot be proved ours was printed


def progress(done: Number, total: Optional[Number] = None, unit: Optional[str] = None) -> None:
    """Reports `done` of `total` (None when unknown) units of work."""
    event: dict[str, Any] = {"type": "progress", "done": _number(done), "total": _number(total)}
    if unit is not None:
        event["unit"] = str(unit)
    _emit(event)


def checkpoint(path: PathLike, step: Optional[Number] = None) -> None:
    """Reports a durable checkpoint (see save_atomic); call only after it is on disk."""
    _emit({"type": "checkpoint", "path": os.path.abspath(os.fspath(path)), "step": _number(step)})


def metric(name: str, value: Number, step: Optional[Number] = None) -> None:
    """Reports one value of a named metric; NaN and infinities are sent as null."""
    _emit({"type": "metric", "name": str(name), "value": _number(value), "step": _number(step)})


def log(message: str, level: str = "info") -> None:
    """Sends a log line to the supervisor."""
    _emit({"type": "log", "level": str(level), "message": str(message)})


def resume_from() -> Optional[str]:
    """The checkpoint the supervisor asks this run to resume from, or None."""
    return os.environ.get("LONGHAUL_RESUME_FROM") or None


def save_atomic(path: PathLike, write: Callable[[IO[bytes]], object]) -> str:
    """Writes a file so a crash leaves either the old file or the complete new one.

    Calls write(fileobj) on a temp file in the same folder, flushes and fsyncs
    it, renames it over `path`, then fsyncs the folder so the rename survives a
    crash too. Returns the absolute path. Errors propagate: an unsynced file is
    not a checkpoint.
    """
    path = os.path.abspath(os.fspath(path))
    folder, name = os.path.split(path)
    fd, temp = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=folder)
    try:
        os.fchmod(fd, 0o644)  # mkstemp makes 0600; a checkpoint is an ordinary file
        with os.fdopen(fd, "wb") as file:
            write(file)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(temp)
        raise
    folder_fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(folder_fd)
    finally:
        os.close(folder_fd)
    return path


def _number(value: Optional[Number]) -> Optional[Number]:
    """A JSON-safe number: ints stay ints (numpy ints included), NaN and infinities become None."""
    if value is None:
        return None
    try:
        return operator.index(value)  # type: ignore[arg-type]
    except TypeError:
        number = float(value)
        return number if math.isfinite(number) else None


def _emit(event: dict[str, Any]) -> None:
    line = (json.dumps(event, separators=(",", ":"), allow_nan=False) + "\n").encode()
    with _lock:
        fd = _events_fd()
        if fd is None or not (_owned or _is_channel(fd)):
            return
        try:
            written = os.write(fd, line)  # one write, so concurrent lines never interleave
            while written < len(line):  # only a line longer than a pipe's buffer gets here
                written += os.write(fd, line[written:])
        except OSError as error:
            _turn_off(error)


def _events_fd() -> Optional[int]:
    """The fd for the current LONGHAUL_EVENTS, opened on first use; None when unset or off."""
    global _target, _fd, _owned
    target = os.environ.get("LONGHAUL_EVENTS") or None
    if target == _target:
        return _fd
    _close_owned()
    _target, _fd, _owned = target, None, False
    if target is None:
        return None
    if target.isdigit():
        _fd = int(target)
        return _fd
    try:
        _fd, _owned = os.open(target, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644), True
    except OSError as error:
        _turn_off(error)
    return _fd


def _is_channel(fd: int) -> bool:
    """Whether inherited fd `fd` is the supervisor's FIFO (LONGHAUL_EVENTS_ID), not a file that merely has its number."""
    global _warned
    expected = os.environ.get("LONGHAUL_EVENTS_ID")
    if not expected:
        if not _warned:
            _warned = True
            print(f"longhaul: progress reporting is off: LONGHAUL_EVENTS={_target!r} names a file descriptor, but LONGHAUL_EVENTS_ID does not say which one it must be", file=sys.stderr)
        return False
    try:
        st = os.fstat(fd)
    except OSError:  # closed: not ours, and nothing to write to
        return False
    return stat.S_ISFIFO(st.st_mode) and f"{st.st_dev}:{st.st_ino}" == expected


def _turn_off(error: OSError) -> None:
    """Stops reporting for the current target; a supervisor that went away is not worth a warning."""
    global _fd
    _close_owned()
    _fd = None
    if error.errno not in (errno.EPIPE, errno.EBADF):
        print(f"longhaul: progress reporting turned off: cannot write to LONGHAUL_EVENTS={_target!r}: {error}", file=sys.stderr)


def _close_owned() -> None:
    global _owned
    if _owned and _fd is not None:
        with contextlib.suppress(OSError):
            os.close(_fd)
    _owned = False

