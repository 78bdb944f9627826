"""longhaul for Python: map jobs run by `longhaul run job.py`, and reporting to a `longhaul exec` supervisor.

Map jobs (see docs/python.md): a job file calls define_job once; `longhaul run job.py`
puts this file on PYTHONPATH, so `import longhaul` works without an install.

    import longhaul

    def item(index, ctx):  # ctx.rng: numpy Generator from (seed, index); ctx.random: random.Random
        return {"x": float(ctx.rng.normal()), "label": index % 4}

    job = longhaul.define_job(name="points", total=10_000, item=item, output=longhaul.jsonl())

or one item per record of an input: define_job(..., input=longhaul.jsonl_input("prompts.jsonl"), item=item) with
item(record, ctx) (also csv_input(path), files_input(glob)).

Reporting to a supervisor (`longhaul exec`):

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

import asyncio
import contextlib
import errno
import functools
import json
import math
import operator
import os
import stat
import sys
import tempfile
import threading
from typing import IO, Any, Callable, Iterator, Optional, Union

__all__ = ["progress", "checkpoint", "metric", "log", "resume_from", "save_atomic", "define_job", "jsonl", "npy",
           "jsonl_input", "csv_input", "files_input", "rate_limit", "Job", "ItemContext", "Response", "RateLimited", "open_run",
           "Run", "testing"]

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



# ---------------------------------------------------------------------------
# Map jobs: `longhaul run job.py`
#
# The coordinator (longhaul's TypeScript runner) starts `python3 longhaul.py worker JOB` processes, with this file's
# folder on PYTHONPATH. Each is fed ranges of item indices over a private channel: a socket at the fd named by
# LONGHAUL_WORKER_FD, moved off that number and made non-inheritable before the job's code is loaded, so no
# subprocess of the job can write to it by accident, and stdin/stdout stay the job's. Messages are JSON lines:
#
#   coordinator → worker   {"type": "setup", "params", "seed", "retries", "dataDir", "runTag", "stop"}
#                          {"type": "task", "start", "end", "token", "checkpointMs", "maxBytes", "records"?}
#                                                     records: an input job's records start … end-1
#                          {"type": "stop"}           finish the current item, return what is made
#   worker → coordinator   {"type": "ready"} | {"type": "broken", "message", "stack"}
#                          {"type": "finished", "count"}   items made since the last such message
#                          {"type": "result", "start", "end", "files", "hashBytes", "busyMs", "slowestItemMs",
#                           "failure"?}, then its items' hashes: `hashBytes` raw bytes (32 an item) after the newline
#
# A range's files are written under their staged names (.claim-<run tag>-<token>-<final name>) and fsynced, with the
# folder; only the coordinator's recorded commit gives them their final names. The channel closing (the coordinator
# ended, or was SIGKILLed) ends the worker at once. `python3 longhaul.py describe JOB` writes the job's declaration
# as one JSON object to the same channel.
# ---------------------------------------------------------------------------

import hashlib
import importlib.util
import inspect
import queue
import random as _random
import re
import signal
import time
import traceback

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_FIELD = re.compile(r"^[A-Za-z0-9_-]+$")
_UNIT = re.compile(r"^[A-Za-z_][\w-]*$")
_NPY_DTYPES = {
    "uint8": "|u1", "int8": "|i1", "uint16": "<u2", "int16": "<i2",
    "uint32": "<u4", "int32": "<i4", "float32": "<f4", "float64": "<f8",
}
_defined: list["Job"] = []
_NO_BODY: Any = object()  # ctx.fetch without a JSON body (None is a JSON value: null)


class _Output:
    """How a job's items are written: jsonl() or npy({...})."""

    def __init__(self, description: dict[str, Any]) -> None:
        self.description = description

    def _new_shard(self) -> "_Shard":
        if self.description["kind"] == "jsonl":
            return _JsonlShard()
        return _NpyShard(self.description["fields"])

    def __repr__(self) -> str:
        return f"longhaul.{self.description['kind']}({self.description.get('fields', '')})"


def jsonl() -> _Output:
    """JSON Lines: one record per line, written exactly as JavaScript's JSON.stringify writes the same value."""
    return _Output({"kind": "jsonl"})


def npy(fields: dict[str, str]) -> _Output:
    """One .npy file per field per shard, e.g. npy({"video": "uint8", "label": "uint8"}); numpy.load reads them."""
    if not isinstance(fields, dict) or not fields:
        raise TypeError('npy() needs at least one field, e.g. npy({"label": "uint8"})')
    for name, dtype in fields.items():
        if not isinstance(name, str) or not _FIELD.match(name):
            raise TypeError(f"npy field name {name!r} must be letters, digits, _ or - (it becomes part of a file name)")
        if dtype not in _NPY_DTYPES:
            raise TypeError(f"npy field {name!r} has dtype {dtype!r}; use one of {', '.join(_NPY_DTYPES)}")
    return _Output({"kind": "npy", "fields": dict(fields)})


class _Input:
    """Where an input job's records come from: jsonl_input, csv_input or files_input. longhaul's coordinator reads the
    input (once whole, for its count and digest; then each range's records) and sends each worker its range's records."""

    def __init__(self, description: dict[str, Any]) -> None:
        self.description = description

    def __repr__(self) -> str:
        return f"longhaul.{self.description['kind']}_input({self.description.get('path', self.description.get('pattern'))!r})"


def jsonl_input(path: PathLike) -> _Input:
    """Each non-blank line of a JSON Lines file is one record (as json.loads gives it). A relative path is resolved
    against the working directory of `longhaul run`."""
    return _Input({"kind": "jsonl", "path": _input_path(path, "jsonl_input")})


def csv_input(path: PathLike) -> _Input:
    """Each row of a CSV file with a header line is one record: a dict by the header's column names, values strings."""
    return _Input({"kind": "csv", "path": _input_path(path, "csv_input")})


def files_input(pattern: Union[str, list[str], tuple[str, ...]]) -> _Input:
    """Each file matching a glob (or each path of a list), in sorted order, is one record: {"path": absolute path,
    "name": path relative to the working directory}. The names and sizes are part of the job's fingerprint."""
    if isinstance(pattern, (list, tuple)):
        if not pattern or not all(isinstance(p, str) and p for p in pattern):
            raise TypeError("files_input: give a glob, or a non-empty list of paths")
        return _Input({"kind": "files", "pattern": list(pattern)})
    if not isinstance(pattern, str) or not pattern:
        raise TypeError(f"files_input: give a glob such as 'images/*.png', or a list of paths, got {pattern!r}")
    return _Input({"kind": "files", "pattern": pattern})


def _input_path(path: PathLike, form: str) -> str:
    try:
        given = os.fspath(path)
    except TypeError:
        raise TypeError(f"{form}: give the file's path, got {path!r}") from None
    if not isinstance(given, str) or not given:
        raise TypeError(f"{form}: give the file's path, got {path!r}")
    return given


class _RateLimit:
    """A service's limit, as rate_limit() declares it."""

    def __init__(self, description: dict[str, Any]) -> None:
        self.description = description

    def __repr__(self) -> str:
        units = ", ".join(f"{unit}={amount!r}" for unit, amount in self.description.items() if unit != "per")
        return f"longhaul.rate_limit({units}, per={self.description['per']!r})"


def rate_limit(per: str = "minute", **units: Number) -> _RateLimit:
    """The limit of the service the items call, for the whole run (every worker process of it together; a shared run
    divides it across its processes): rate_limit(requests=600, per="minute"), or several units at once,
    rate_limit(requests=500, tokens=90_000, per="minute"). `requests` are counted by longhaul, one per call of `item`
    (a retry included); any other unit is counted by the item, with ctx.take(tokens=812). per: "second", "minute" or
    "hour". As TypeScript's `rateLimit: { requests: 600, per: 'minute' }`; `longhaul run --rate-limit` overrides it."""
    if per not in ("second", "minute", "hour"):
        raise TypeError(f'rate_limit: per must be "second", "minute" or "hour", got {per!r}')
    if not units:
        raise TypeError('rate_limit: name at least one unit and how many per period, e.g. rate_limit(requests=600, per="minute")')
    for unit, amount in units.items():
        if not _UNIT.match(unit):
            raise TypeError(f"rate_limit: unit {unit!r}: use letters, digits, _ or -")
        if isinstance(amount, bool) or not isinstance(amount, (int, float)) or not (math.isfinite(amount) and amount > 0):
            raise TypeError(f"rate_limit: {unit}={amount!r}: give how many per {per}, a number above 0")
    return _RateLimit({"per": per, **units})


class Job:
    """A map job as define_job declares it."""

    def __init__(self, name: str, total: Optional[int], item: Callable[[Any, "ItemContext"], Any], params: dict[str, Any],
                 output: _Output, validate: Optional[Callable[[Any, int], Any]], retries: int, seed: int,
                 checkpoint_every: float, input: Optional[_Input] = None,
                 dataset_checks: Optional[dict[str, Callable[[Iterator[Any]], Any]]] = None,
                 concurrency: Optional[int] = None, rate_limit: Optional["_RateLimit"] = None) -> None:
        self.name, self.total, self.item, self.params = name, total, item, params
        self.output, self.validate, self.retries, self.seed = output, validate, retries, seed
        self.checkpoint_every, self.input = checkpoint_every, input
        self.dataset_checks = dict(dataset_checks or {})
        self.concurrency, self.rate_limit = concurrency, rate_limit
        self.is_async = inspect.iscoroutinefunction(item)


def define_job(name: str, total: Optional[int] = None, item: Optional[Callable[[Any, "ItemContext"], Any]] = None,
               params: Optional[dict[str, Any]] = None, output: Optional[_Output] = None,
               validate: Optional[Callable[[Any, int], Any]] = None, retries: int = 2, seed: int = 0,
               checkpoint_every: float = 60.0, input: Optional[_Input] = None,
               dataset_checks: Optional[dict[str, Callable[[Iterator[Any]], Any]]] = None,
               concurrency: Optional[int] = None, rate_limit: Optional["_RateLimit"] = None) -> Job:
    """Declares the map job of this file: items 0 … total-1, each made by item(index, ctx); or, with `input`, one item
    per record of the input, made by item(record, ctx) (ctx.index is the record number; the total is the record count).

    params: the defaults of the job's params (JSON values), overridden by --param k=v; output: jsonl() (the default)
    or npy({...}); validate(record, index): run by preflight on every rehearsal record; dataset_checks: {name:
    check(records)}, each run by preflight over all the rehearsal's records in index order, returning True (or None)
    or the reason it fails; retries: how many times a failing item is retried; seed: the seed when --seed is not given;
    checkpoint_every: seconds between commits; concurrency: items in flight at once per process, for an `async def
    item` (run on an asyncio loop in each worker process; --concurrency overrides it); rate_limit: the limit of the
    service the items call, for the whole run, e.g. rate_limit(requests=600, per="minute") (--rate-limit overrides it).
    """
    if not isinstance(name, str) or not _NAME.match(name):
        raise TypeError(f"define_job: name {name!r}: use letters, digits, '.', '_' or '-'")
    if input is not None and not isinstance(input, _Input):
        raise TypeError("define_job: input must be longhaul.jsonl_input(path), longhaul.csv_input(path) or longhaul.files_input(glob)")
    if input is not None and total is not None:
        raise TypeError("define_job: an input job takes its total from the input; remove `total`")
    if input is None and (isinstance(total, bool) or not isinstance(total, int) or total <= 0):
        raise TypeError(f"define_job: total must be a whole number above 0, got {total!r}")
    if not callable(item):
        raise TypeError(f"define_job: item must be a function item({'record' if input is not None else 'index'}, ctx)")
    params = {} if params is None else params
    if not isinstance(params, dict) or not all(isinstance(k, str) for k in params):
        raise TypeError("define_job: params must be a dict of default values by name")
    try:
        json.dumps(params, allow_nan=False)
    except (TypeError, ValueError) as error:
        raise TypeError(f"define_job: params must be JSON values (they are recorded with the run): {error}") from None
    output = jsonl() if output is None else output
    if not isinstance(output, _Output):
        raise TypeError("define_job: output must be longhaul.jsonl() or longhaul.npy({...})")
    if validate is not None and not callable(validate):
        raise TypeError("define_job: validate must be a function validate(record, index)")
    dataset_checks = {} if dataset_checks is None else dataset_checks
    if not isinstance(dataset_checks, dict) or not all(isinstance(k, str) and k and callable(f) for k, f in dataset_checks.items()):
        raise TypeError("define_job: dataset_checks must be a dict of functions by name, e.g. {\"balanced\": balanced}, each check(records)")
    if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
        raise TypeError(f"define_job: retries must be a whole number from 0, got {retries!r}")
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= 2**32 - 1:
        raise TypeError(f"define_job: seed must be a whole number from 0 to 4294967295, got {seed!r}")
    if not isinstance(checkpoint_every, (int, float)) or not checkpoint_every > 0:
        raise TypeError(f"define_job: checkpoint_every must be a number of seconds above 0, got {checkpoint_every!r}")
    if concurrency is not None and (isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency <= 0):
        raise TypeError(f"define_job: concurrency must be a whole number above 0, got {concurrency!r}")
    if concurrency is not None and not inspect.iscoroutinefunction(item):
        raise TypeError("define_job: concurrency needs an `async def item(...)` (items that await I/O); "
                        "a plain function makes one item at a time per worker process: use --workers instead")
    if rate_limit is not None and not isinstance(rate_limit, _RateLimit):
        raise TypeError('define_job: rate_limit must be longhaul.rate_limit(requests=…, per="minute"), e.g. '
                        'rate_limit(requests=500, tokens=90_000, per="minute")')
    job = Job(name, total, item, dict(params), output, validate, retries, seed, float(checkpoint_every), input,
              dataset_checks, concurrency, rate_limit)
    _defined.append(job)
    return job


class ItemContext:
    """What item(index, ctx) is given besides its index (or item(record, ctx) besides its record: ctx.index is the
    record number). Its random streams depend on (seed, index) only. For items that call a service: ctx.fetch (await
    it in an `async def item`) or ctx.fetch_sync, ctx.take / ctx.take_sync (counted units of the run's rate limit) and
    ctx.usage (what a call used, counted with the item's commit)."""

    __slots__ = ("index", "params", "seed", "_rng", "_random", "_worker", "_used")

    def __init__(self, index: int, params: Any, seed: int, worker: Optional["_Worker"] = None) -> None:
        self.index, self.params, self.seed = index, params, seed
        self._rng: Any = None
        self._random: Optional[_random.Random] = None
        self._worker = worker  # None outside a run: take() waits for nothing
        self._used: dict[str, Number] = {}  # what this attempt reported with usage()

    def usage(self, amounts: Optional[dict[str, Number]] = None, /, **counters: Number) -> None:
        """Adds what this attempt used, by named counter: ctx.usage(tokens=812, usd=0.0012) (or a dict). Called several
        times, the amounts add up. Counted once, with the commit of the item's range (failed attempts apart)."""
        given = {**(amounts or {}), **counters}
        for unit, amount in given.items():
            if not isinstance(unit, str) or isinstance(amount, bool) or not isinstance(amount, (int, float)) \
                    or not (math.isfinite(amount) and amount >= 0):
                raise TypeError(f"ctx.usage: {unit} is {amount!r}; give each counter a finite number ≥ 0")
        _add_usage(self._used, given)

    async def take(self, amounts: Optional[dict[str, Number]] = None, /, **units: Number) -> None:
        """Takes counted units of the run's rate limit, ctx.take(tokens=812), waiting until the limit has room (a unit
        the limit does not name is not limited). `requests` are taken for you, one per call of `item`."""
        worker = self._calling("take", "take_sync", sync=False)
        if worker is not None:
            wait = await worker.limits.place_async(_amounts("ctx.take", amounts, units))
            if not await worker.wait_unless_stopped(wait):
                raise _Stopping()

    def take_sync(self, amounts: Optional[dict[str, Number]] = None, /, **units: Number) -> None:
        """ctx.take for a plain (not async) item: blocks until the limit has room."""
        worker = self._calling("take_sync", "take", sync=True)
        if worker is not None:
            wait = worker.limits.place_sync(_amounts("ctx.take_sync", amounts, units))
            if not worker.wait_unless_stopped_sync(wait):
                raise _Stopping()

    async def fetch(self, url: str, method: str = "GET", json: Any = _NO_BODY, data: Union[bytes, str, None] = None,
                    headers: Optional[dict[str, str]] = None, timeout: float = 60.0) -> "Response":
        """An HTTP call (urllib, in a thread), for an `async def item`: `json` is sent as a JSON body. Returns a
        Response (status, headers, body: parsed JSON, text or bytes) whatever its status, except that HTTP 429, and 503
        with a Retry-After, raise RateLimited (called again after the wait, without using up the item's retries)."""
        worker = self._calling("fetch", "fetch_sync", sync=False)
        call = functools.partial(_http, url, method, json, data, headers, timeout)
        return await asyncio.get_running_loop().run_in_executor(worker.fetch_threads() if worker else None, call)

    def fetch_sync(self, url: str, method: str = "GET", json: Any = _NO_BODY, data: Union[bytes, str, None] = None,
                   headers: Optional[dict[str, str]] = None, timeout: float = 60.0) -> "Response":
        """ctx.fetch for a plain (not async) item: the same call, made in this thread."""
        self._calling("fetch_sync", "fetch", sync=True)
        return _http(url, method, json, data, headers, timeout)

    def _calling(self, name: str, other: str, sync: bool) -> Optional["_Worker"]:
        """The worker, once `name` is the form for this job's item: a blocking call would stall an asyncio loop's
        other items, and an async one in a plain item would never run."""
        worker = self._worker
        if worker is not None and worker.job.is_async == sync:
            raise TypeError(f"ctx.{name} is for {'a plain' if sync else 'an async def'} item; "
                            f"this job's item is {'an async def' if worker.job.is_async else 'a plain function'}: "
                            f"use {'await ' if not sync else ''}ctx.{other}(...)")
        return worker

    @property
    def rng(self) -> Any:
        """This item's numpy Generator (PCG64 seeded from SeedSequence([seed, index])), made on first use."""
        if self._rng is None:
            import numpy as np

            self._rng = np.random.default_rng(np.random.SeedSequence([self.seed, self.index]))
        return self._rng

    @property
    def random(self) -> _random.Random:
        """This item's random.Random, seeded from (seed, index) only, made on first use."""
        if self._random is None:
            self._random = _random.Random(f"longhaul:{self.seed}:{self.index}")
        return self._random


class RateLimited(Exception):
    """Raised by an item when the service it calls said "rate limited" (HTTP 429, or 503 with Retry-After; ctx.fetch
    raises it for those): the item is called again after a backoff with full jitter, never sooner than `retry_after_s`,
    and no worker process of the run starts another call until then. These calls do not use up the item's `retries`;
    after 30 in a row the item fails."""

    def __init__(self, retry_after_s: Optional[float] = None, message: str = "rate limited") -> None:
        super().__init__(message if retry_after_s is None else f"{message} (retry after {retry_after_s:g} s)")
        if retry_after_s is not None and (isinstance(retry_after_s, bool) or not isinstance(retry_after_s, (int, float))
                                          or not retry_after_s >= 0):
            raise TypeError(f"RateLimited: retry_after_s must be a number of seconds from 0, got {retry_after_s!r}")
        self.retry_after_s = retry_after_s


class _Stopping(Exception):
    """The run stopped while an item waited on the rate limit: the item is left for the next run."""

    def __init__(self) -> None:
        super().__init__("the run is stopping")


class Response:
    """What ctx.fetch answers: `status` (int), `headers` (a dict, names in lower case), `body` (the parsed JSON when
    the answer says it is JSON, else its text for text/*, else bytes), `url`; `ok` when the status is 2xx."""

    __slots__ = ("status", "headers", "body", "url")

    def __init__(self, status: int, headers: dict[str, str], body: Any, url: str) -> None:
        self.status, self.headers, self.body, self.url = status, headers, body, url

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    def __repr__(self) -> str:
        return f"<longhaul.Response {self.status} from {self.url}>"


def _http(url: str, method: str, payload: Any, data: Union[bytes, str, None], headers: Optional[dict[str, str]],
          timeout: float) -> Response:
    """One HTTP call with urllib: any status is returned as a Response, but 429, and 503 with a Retry-After, raise
    RateLimited (its Retry-After, seconds or an HTTP date, as retry_after_s)."""
    import urllib.error
    import urllib.request

    sent = dict(headers or {})
    body: Optional[bytes] = None
    if payload is not _NO_BODY:
        body = json.dumps(payload, separators=(",", ":"), allow_nan=False).encode()
        if not any(name.lower() == "content-type" for name in sent):
            sent["Content-Type"] = "application/json"
    elif data is not None:
        body = data.encode() if isinstance(data, str) else bytes(data)
    request = urllib.request.Request(url, data=body, headers=sent, method=method.upper())
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            status, got, raw = answer.status, answer.headers, answer.read()
    except urllib.error.HTTPError as answer:  # 4xx and 5xx: an answer all the same
        with answer:
            status, got, raw = answer.code, answer.headers, answer.read()
    received: dict[str, str] = {}
    for name, value in got.items():
        name = name.lower()
        received[name] = f"{received[name]}, {value}" if name in received else value
    after = _retry_after_s(received.get("retry-after"))
    if status == 429 or (status == 503 and after is not None):
        raise RateLimited(after, f"{url} answered {status}")
    kind = received.get("content-type", "").lower()
    text_of = lambda: raw.decode(got.get_content_charset() or "utf-8", errors="replace")  # noqa: E731
    if "json" in kind:
        try:
            parsed: Any = json.loads(text_of()) if raw.strip() else None
        except ValueError as error:
            raise ValueError(f"{url} answered {status} with a body that is not the JSON it says it is: {error}") from None
    elif kind.startswith("text/"):
        parsed = text_of()
    else:
        parsed = raw
    return Response(status, received, parsed, url)


def _retry_after_s(header: Optional[str]) -> Optional[float]:
    """Retry-After in seconds: a number of seconds, or an HTTP date; None when absent or unreadable."""
    if header is None:
        return None
    text = header.strip()
    if re.match(r"^\d+(\.\d+)?$", text):
        return float(text)
    import email.utils

    try:
        at = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    return max(0.0, at.timestamp() - time.time())


def _amounts(form: str, amounts: Optional[dict[str, Number]], units: dict[str, Number]) -> dict[str, float]:
    given = {**(amounts or {}), **units}
    for unit, amount in given.items():
        if not isinstance(unit, str) or isinstance(amount, bool) or not isinstance(amount, (int, float)) \
                or not (math.isfinite(amount) and amount >= 0):
            raise TypeError(f"{form}: {unit} is {amount!r}; give each unit a finite number ≥ 0, e.g. {form}(tokens=812)")
    return {unit: float(amount) for unit, amount in given.items()}


def _add_usage(into: dict[str, Number], amounts: dict[str, Number]) -> None:
    for unit, amount in amounts.items():
        into[unit] = into.get(unit, 0) + amount


_RATE_LIMITED_TRIES = 30  # "rate limited" answers to one item in a row before it fails (as TypeScript's RATE_LIMITED_TRIES)
_BACKOFF_BASE_S, _BACKOFF_CAP_S = 0.5, 60.0


def _rate_limited_wait(error: RateLimited, n: int) -> float:
    """The n-th "rate limited" answer in a row: wait this long (full jitter, never less than the Retry-After)."""
    jitter = _random.random() * min(_BACKOFF_CAP_S, _BACKOFF_BASE_S * 2 ** (n - 1))
    return max(error.retry_after_s or 0.0, jitter)


def _rate_limited_failure(index: int, attempts: int, n: int, error: RateLimited, limit: str) -> dict[str, Any]:
    return {"failure": {"kind": "item", "index": index, "attempts": attempts,
                        "message": f"the service answered \"rate limited\" {n} times in a row (last: {error}); it allows "
                                   f"fewer calls than this run makes{f' at its limit of {limit}' if limit else ''}: give a "
                                   "lower --rate-limit or --concurrency, or fewer workers"}}


class _ValueProblem(Exception):
    """A value the output cannot write as it is: where in the item, the value as text, and why."""

    def __init__(self, field: str, value: str, reason: str) -> None:
        super().__init__(reason)
        self.field, self.value, self.reason = field, value, reason


def _shown(value: Any) -> str:
    if isinstance(value, str):
        return f"{json.dumps(value[:40])}{'…' if len(value) > 40 else ''} (a string)"
    if isinstance(value, (bool, int, float)) or value is None:
        return repr(value)
    return f"a {type(value).__module__}.{type(value).__qualname__}" if type(value).__module__ != "builtins" else f"a {type(value).__name__}"


def _path(path: str, key: Union[str, int]) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    if re.match(r"^[A-Za-z_$][\w$]*$", key):
        return f"{path}.{key}" if path else key
    return f"{path}[{json.dumps(key)}]"


# ---- JSON exactly as JavaScript's JSON.stringify writes it, so an item's line (and hash) is what a TypeScript job
# returning the same value would write.

_json_string = json.encoder.encode_basestring  # type: ignore[attr-defined]  # C, ensure_ascii=False like JavaScript


def _js_number(value: float, path: str) -> str:
    """A float as JavaScript's Number.prototype.toString writes it (the same shortest digits as repr)."""
    if value != value or value in (math.inf, -math.inf):
        raise _ValueProblem(path, repr(value), "JSON has no NaN or infinities (JSON.stringify would write null); return None, or a finite number")
    if value == 0:
        return "0"
    text = repr(value)
    sign = ""
    if text[0] == "-":
        sign, text = "-", text[1:]
    mantissa, _, exponent = text.partition("e")
    whole, _, fraction = mantissa.partition(".")
    every = whole + fraction
    significant = every.lstrip("0")
    point = len(whole) + int(exponent or 0) - (len(every) - len(significant))
    digits = significant.rstrip("0")
    count = len(digits)
    if count <= point <= 21:
        out = digits + "0" * (point - count)
    elif 0 < point <= 21:
        out = f"{digits[:point]}.{digits[point:]}"
    elif -6 < point <= 0:
        out = f"0.{'0' * -point}{digits}"
    else:
        e = point - 1
        out = f"{digits[0]}{'.' + digits[1:] if count > 1 else ''}e{'+' if e >= 0 else '-'}{abs(e)}"
    return sign + out


def _is_array_index(key: str) -> bool:
    return key.isascii() and key.isdigit() and (key == "0" or key[0] != "0") and int(key) < 2**32 - 1


def _js_json(value: Any, path: str = "") -> str:
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    kind = type(value)
    if kind is str:
        return _json_string(value)
    if kind is int:
        return str(value)
    if kind is float:
        return _js_number(value, path)
    if kind is dict or isinstance(value, dict):
        keys: list[str] = []
        values: dict[str, Any] = {}
        for key, item in value.items():
            if isinstance(key, bool) or not isinstance(key, (str, int)):
                raise _ValueProblem(path, _shown(key) + " (a key)", "a jsonl record's keys are strings (or whole numbers, written as strings)")
            key = str(key)
            keys.append(key)
            values[key] = item
        # JavaScript objects list keys that are array indices first, in numeric order.
        indices = [key for key in keys if _is_array_index(key)]
        if indices:
            keys = sorted(indices, key=int) + [key for key in keys if not _is_array_index(key)]
        return "{" + ",".join(f"{_json_string(key)}:{_js_json(values[key], _path(path, key))}" for key in keys) + "}"
    if kind is list or kind is tuple or isinstance(value, (list, tuple)):
        return "[" + ",".join(_js_json(item, _path(path, i)) for i, item in enumerate(value)) + "]"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(int(value))
    if isinstance(value, float):
        return _js_number(float(value), path)
    if isinstance(value, str):
        return _json_string(str(value))
    if kind.__module__ == "numpy" and hasattr(value, "tolist"):  # numpy arrays and scalars, as their Python values
        return _js_json(value.tolist(), path)
    raise _ValueProblem(path, _shown(value), "a jsonl record holds dicts, lists, strings, numbers, booleans and None (numpy values are written as their Python values)")


class _Shard:
    bytes = 0

    def add(self, record: Any) -> bytes:
        raise NotImplementedError

    def finish(self) -> list[tuple[str, list[bytes]]]:
        raise NotImplementedError


class _JsonlShard(_Shard):
    def __init__(self) -> None:
        # One buffer, not a bytes object an item (~50 bytes of overhead each: 3 MB more at 65,536 short lines).
        self.lines = bytearray()
        self.bytes = 0

    def add(self, record: Any) -> bytes:
        try:
            line = _js_json(record).encode("utf-8")
        except RecursionError:
            raise _ValueProblem("", _shown(record), "nested too deeply to be written and checked; flatten it") from None
        except UnicodeEncodeError:
            raise _ValueProblem("", _shown(record), "it holds a string with a lone surrogate, which UTF-8 cannot write") from None
        self.lines += line
        self.lines += b"\n"
        self.bytes += len(line) + 1
        return hashlib.sha256(line).digest()

    def finish(self) -> list[tuple[str, list[bytes]]]:
        return [("jsonl", [self.lines])]


class _NpyShard(_Shard):
    def __init__(self, fields: dict[str, str]) -> None:
        import numpy as np

        self.np = np
        self.fields = [(name, np.dtype(_NPY_DTYPES[dtype]), dtype) for name, dtype in fields.items()]
        self.rows: dict[str, bytearray] = {name: bytearray() for name in fields}  # a buffer per field, not a bytes per row
        self.shapes: dict[str, tuple[int, ...]] = {}
        self.count = 0
        self.bytes = 0

    def add(self, record: Any) -> bytes:
        if not isinstance(record, dict):
            raise _ValueProblem("", _shown(record), f"an npy job's item returns a dict with fields {', '.join(n for n, _, _ in self.fields)}")
        parts = []
        for name, dtype, dtype_name in self.fields:
            if name not in record:
                raise _ValueProblem(name, "missing", f"every item gives each declared field ({dtype_name})")
            array = self._array(record[name], dtype, dtype_name, name)
            shape = self.shapes.get(name)
            if shape is not None and shape != array.shape:
                raise _ValueProblem(name, f"of shape {list(array.shape)}", f"earlier items of the shard gave it shape {list(shape)}: every item gives a field the same shape")
            parts.append((name, array.shape, array.tobytes()))  # C order, whatever the array's layout
        digest = hashlib.sha256()
        for name, shape, row in parts:
            self.shapes.setdefault(name, shape)
            self.rows[name] += row
            self.bytes += len(row)
            digest.update(row)
        self.count += 1
        return digest.digest()

    def _array(self, value: Any, dtype: Any, dtype_name: str, name: str) -> Any:
        np = self.np
        try:
            given = np.asarray(value)
        except Exception:  # ragged lists and the like
            raise _ValueProblem(name, _shown(value), f"a {dtype_name} field takes a number, a list of numbers or a numpy array") from None
        if given.dtype == dtype:
            return given
        if given.dtype.kind not in "biuf":
            raise _ValueProblem(name, _shown(value) + f" (dtype {given.dtype})", f"a {dtype_name} field holds numbers (or booleans)")
        with np.errstate(all="ignore"):
            cast = given.astype(dtype)
            if dtype.kind in "iu":
                bad = ~(cast == given) if given.dtype.kind != "b" else np.zeros(given.shape, bool)
                why = f"{dtype_name} holds whole numbers from {np.iinfo(dtype).min} to {np.iinfo(dtype).max}; round, clamp or scale it first, or declare a wider dtype"
            elif dtype_name == "float32":
                bad = np.isinf(cast) & ~np.isinf(given)
                why = "float32's largest is ±3.4028235e38; declare float64, or scale it first"
            else:
                bad = np.zeros(given.shape, bool)
                why = ""
        if np.any(bad):
            at = tuple(int(i) for i in np.argwhere(bad)[0]) if given.ndim else ()
            where = f"{name}[{', '.join(map(str, at))}]" if at else name
            return self._refuse(where, given[at] if at else given, why)
        return cast

    def _refuse(self, where: str, value: Any, why: str) -> Any:
        raise _ValueProblem(where, repr(value.item() if hasattr(value, "item") else value), why)

    def finish(self) -> list[tuple[str, list[bytes]]]:
        return [(f"{name}.npy", [_npy_header(_NPY_DTYPES[dtype_name], (self.count, *self.shapes.get(name, ()))), self.rows[name]])
                for name, _, dtype_name in self.fields]


def _npy_header(descr: str, shape: tuple[int, ...]) -> bytes:
    """The .npy v1.0 header, byte for byte as longhaul's TypeScript writer makes it."""
    dims = f"{shape[0]}," if len(shape) == 1 else ", ".join(map(str, shape))
    text = f"{{'descr': '{descr}', 'fortran_order': False, 'shape': ({dims}), }}"
    unpadded = 8 + 2 + len(text) + 1
    text = text + " " * ((64 - unpadded % 64) % 64) + "\n"
    return b"\x93NUMPY\x01\x00" + len(text).to_bytes(2, "little") + text.encode("latin-1")


# ---- reading a run's output


class Run:
    """A run's committed output, read through data/index.json in index order (see open_run)."""

    def __init__(self, directory: PathLike) -> None:
        self.data = os.path.join(os.fspath(directory), "data")
        index_file = os.path.join(self.data, "index.json")
        try:
            with open(index_file, encoding="utf-8") as file:
                index = json.load(file)
        except FileNotFoundError:
            raise FileNotFoundError(f"{index_file} does not exist: give the --out folder of a longhaul run") from None
        self.format: str = index["format"]
        self.shards: list[dict[str, Any]] = index["shards"]
        at = 0
        for shard in self.shards:
            if shard["start"] != at:
                raise ValueError(f"{index_file}: items {at}–{shard['start'] - 1} are missing: run `longhaul verify` on the run")
            at = shard["end"]
        if at != index["items"]:
            raise ValueError(f"{index_file} lists {at} items in its shards but says {index['items']}")

    def __len__(self) -> int:
        return self.shards[-1]["end"] if self.shards else 0

    def __iter__(self) -> Iterator[Any]:
        for _, record in self.items():
            yield record

    def items(self) -> Iterator[tuple[int, Any]]:
        """(index, record) in index order: a jsonl record as json.loads gives it; an npy record as {field: row}, each row
        a view of its shard's memory-mapped array."""
        for shard in self.shards:
            paths = [os.path.join(self.data, name) for name in shard["files"]]
            if self.format == "jsonl":
                with open(paths[0], "rb") as file:
                    for offset, line in enumerate(file):
                        yield shard["start"] + offset, json.loads(line)
            else:
                import numpy as np

                fields = {name.split(".")[-2]: np.load(path, mmap_mode="r") for name, path in zip(shard["files"], paths)}
                for offset in range(shard["end"] - shard["start"]):
                    yield shard["start"] + offset, {field: rows[offset] for field, rows in fields.items()}


def open_run(directory: PathLike) -> Run:
    """The committed records of the run in `directory` (its --out folder), in index order, checked to have no gap.

        for record in longhaul.open_run("runs/points"): ...
    """
    return Run(directory)


def _verdict(validate: Callable[[Any, int], Any], record: Any, index: int) -> Optional[str]:
    """None when validate accepts the record; the reason when it returns False or a string, or raises."""
    try:
        result = validate(record, index)
    except Exception as error:
        return f"threw: {type(error).__name__}: {error}"
    if result is None or result is True:
        return None
    return "rejected" if result is False else str(result)


def _validate(path: str, directory: str) -> int:
    """`longhaul.py validate JOB DIR`: the job's validate over every record of the run, then each of its dataset checks
    over all of them (streamed, one pass each), for preflight."""
    channel = _Channel()
    try:
        job, _ = _load(path)
        count, rejected, first = 0, 0, []
        for index, record in open_run(directory).items():
            count += 1
            reason = _verdict(job.validate, record, index) if job.validate else None
            if reason is not None:
                rejected += 1
                if len(first) < 10:
                    first.append({"index": index, "reason": reason})
        datasets = []
        for name, check in job.dataset_checks.items():
            reason = _verdict(lambda records, _index: check(records), iter(open_run(directory)), 0)
            datasets.append({"name": name, "passed": reason is None, "reason": reason})
        answer: dict[str, Any] = {"count": count, "rejected": rejected, "firstRejected": first, "datasets": datasets}
    except BaseException as error:
        answer = {"error": f"{type(error).__name__}: {error}", "stack": _job_frames(error)}
    channel.send(answer)
    return 0


# ---- checks for a job's own tests (pytest, unittest): longhaul.testing.expect_crash_safe("gen.py")


class testing:  # noqa: N801  (a namespace: longhaul.testing.expect_crash_safe)
    """The invariants a job must keep, checked by running the longhaul CLI on it in a temporary folder. Each raises
    AssertionError naming the invariant a job breaks, and returns its evidence when the job keeps it."""

    @staticmethod
    def cli() -> list[str]:
        """How to start the longhaul CLI: LONGHAUL_CLI (a command line), else the package this file belongs to."""
        given = os.environ.get("LONGHAUL_CLI")
        if given:
            return given.split()
        own = os.path.join(os.path.dirname(os.path.realpath(__file__)), "..", "bin", "longhaul.mjs")
        return ["node", own] if os.path.exists(own) else ["npx", "longhaul"]

    @staticmethod
    def _run(args: list[str], timeout: float) -> dict[str, Any]:
        import subprocess

        done = subprocess.run([*testing.cli(), *args, "--json"], capture_output=True, text=True, timeout=timeout)
        if done.returncode != 0:
            raise AssertionError(f"longhaul {' '.join(args)} exited {done.returncode}:\n{done.stderr.strip()}")
        return json.loads(done.stdout)

    @staticmethod
    def _seeded(seed: Optional[int]) -> list[str]:
        return [] if seed is None else ["--seed", str(seed)]

    @staticmethod
    def expect_deterministic(job: PathLike, total: int = 100, workers: tuple[int, ...] = (1, 2), seed: Optional[int] = None,
                             timeout: float = 300.0) -> str:
        """Invariant determinism: uninterrupted runs of `total` items on each worker count of `workers` have one digest
        (the items depend only on params, seed and index). Returns that digest."""
        import shutil

        job = os.fspath(job)
        folder = tempfile.mkdtemp(prefix="longhaul-check-")
        try:
            digests = {}
            for count in workers:
                out = os.path.join(folder, f"workers-{count}")
                args = ["run", job, "--out", out, "--total", str(total), "--workers", str(count), *testing._seeded(seed)]
                digests[count] = testing._run(args, timeout)["digest"]
            first = workers[0]
            for count, digest in digests.items():
                if digest != digests[first]:
                    raise AssertionError(f"determinism: {count} workers made different items than {first} (digest {digest[:12]}… ≠ {digests[first][:12]}…): items must depend only on params, seed and index: draw randomness from ctx.rng or ctx.random, not random.random(), np.random or the clock, and keep no state between items")
            return digests[first]
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    @staticmethod
    def expect_crash_safe(job: PathLike, total: int = 200, kills: int = 3, workers: int = 2, kill_seed: int = 1,
                          seed: Optional[int] = None, timeout: float = 300.0) -> dict[str, Any]:
        """Invariants no-loss, no-duplicates, determinism, atomic-commit: the job SIGKILLed `kills` times and resumed ends
        complete, every item once (verify), with the digest of an uninterrupted run on one worker. As preflight does,
        every other kill is at a commit (the 2nd to 6th of that life: the shard's files durable, the journal not yet
        told), the others at a seeded moment. Raises AssertionError saying which failed; returns the verify report, with
        "kills" and "killsAtCommit"."""
        import shutil
        import subprocess

        job = os.fspath(job)
        folder = tempfile.mkdtemp(prefix="longhaul-check-")
        try:
            reference = testing._run(["run", job, "--out", os.path.join(folder, "reference"), "--total", str(total), "--workers", "1", *testing._seeded(seed)], timeout)
            out = os.path.join(folder, "killed")
            args = ["run", job, "--out", out, "--total", str(total), "--workers", str(workers), *testing._seeded(seed)]
            schedule = _random.Random(kill_seed)
            done, at_commit, lives = 0, 0, 0
            while done < kills and lives < kills * 3 + 2:
                lives += 1
                by_timer = done % 2 == 1
                # A timer kill lands anywhere in the life (start-up, mid-item, mid-write); the 8th commit is its backstop.
                crash_at = 8 if by_timer else schedule.randint(2, 6)
                env = {**os.environ, "LONGHAUL_CRASH_AT": f"commit:{crash_at}"}
                # Its own session: the kill reaches the CLI's node process even when it runs under npx.
                process = subprocess.Popen([*testing.cli(), *args, "--json"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, start_new_session=True)
                try:
                    process.wait(0.5 + schedule.uniform(0, max(0.5, 0.8 * reference["wallMs"] / 1000)) if by_timer else timeout)
                except subprocess.TimeoutExpired:
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(process.pid, signal.SIGKILL)
                    process.wait()
                    done += 1
                    continue
                if process.returncode in (-signal.SIGKILL, 128 + signal.SIGKILL):  # it killed itself at the commit
                    done, at_commit = done + 1, at_commit + 1
                elif process.returncode == 0:
                    break  # finished before the kill landed
                else:
                    raise AssertionError(f"no-loss: after {done} kill(s) a resume of {job} exited {process.returncode}: run `longhaul run {job} --out DIR` to see why")
            if done < kills:
                raise AssertionError(f"only {done} of {kills} kills happened before the run completed: give a larger total (or slower items) so that the run lives through {kills} kills")
            final = testing._run(args, timeout)
            if final["digest"] != reference["digest"]:
                raise AssertionError(f"determinism: after {kills} SIGKILLs ({at_commit} at a commit) and resumes the digest is {final['digest']}, an uninterrupted run's is {reference['digest']}: the items depend on something besides (seed, index) (use ctx.rng or ctx.random)")
            report = testing._run(["verify", out], timeout)
            if not (report["complete"] and report["items"] == total and report["duplicates"] == 0 and report["corrupt"] == 0):
                raise AssertionError(f"no-loss/no-duplicates/atomic-commit: after {kills} SIGKILLs ({at_commit} at a commit) verify found {report['items']} of {total} items, {report['duplicates']} duplicated, {report['corrupt']} corrupt")
            return {**report, "kills": done, "killsAtCommit": at_commit}
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    @staticmethod
    def expect_preflight_passes(job: PathLike, target: int, seed: Optional[int] = None, timeout: float = 900.0) -> dict[str, Any]:
        """The whole preflight, as `longhaul preflight JOB --target N` runs it, into a temporary folder: raises
        AssertionError listing each failed requirement unless every check passes; returns the preflight's --json."""
        import shutil
        import subprocess

        job = os.fspath(job)
        folder = tempfile.mkdtemp(prefix="longhaul-check-")
        try:
            args = ["preflight", job, "--target", str(target), "--out", os.path.join(folder, "run"), *testing._seeded(seed), "--json"]
            done = subprocess.run([*testing.cli(), *args], capture_output=True, text=True, timeout=timeout)
            try:
                predicate: Optional[dict[str, Any]] = json.loads(done.stdout)
            except ValueError:
                predicate = None
            if done.returncode != 0 or predicate is None:
                failures = [f for check in (predicate or {}).get("checks", []) for f in check.get("failures", [])]
                said = "\n".join(f"  ✘ {failure}" for failure in failures) or done.stderr.strip()
                raise AssertionError(f"preflight of {job} failed (exit {done.returncode}):\n{said}")
            return predicate
        finally:
            shutil.rmtree(folder, ignore_errors=True)


# ---- the worker process


class _Channel:
    """The coordinator's channel (a socket, or a pipe), moved off its inherited fd number and made non-inheritable."""

    def __init__(self) -> None:
        fd = int(os.environ.pop("LONGHAUL_WORKER_FD"))
        self.fd = os.dup(fd)  # os.dup makes a non-inheritable fd
        os.close(fd)
        self.lock = threading.Lock()  # a plain item's threads may ask for their place while the main thread sends

    def send(self, message: dict[str, Any], payload: Union[bytes, bytearray] = b"") -> None:
        """One JSON line, then `payload` as it is (a range's item hashes: 2 MB at 65,536 items, never copied)."""
        line = memoryview((json.dumps(message, separators=(",", ":")) + "\n").encode())
        with self.lock:
            self._write(line)
            self._write(memoryview(payload))

    def _write(self, data: memoryview) -> None:
        while data:
            data = data[os.write(self.fd, data):]

    def lines(self) -> IO[bytes]:
        return os.fdopen(os.dup(self.fd), "rb")


def _die_with_parent() -> None:
    """Linux: the kernel kills this worker when the coordinator dies, even in the middle of an item that holds the GIL."""
    parent = os.environ.pop("LONGHAUL_COORDINATOR_PID", None)
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
    if parent is not None and str(os.getppid()) != parent:
        os._exit(0)


def _load(path: str) -> tuple[Job, list[str]]:
    """Imports the job file as `python3 JOB` would (its folder first on sys.path); returns its job and its local modules."""
    path = os.path.realpath(path)
    folder = os.path.dirname(path)
    sys.path.insert(0, folder)
    spec = importlib.util.spec_from_file_location("__longhaul_job__", path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    if len(_defined) != 1:
        raise _Usage(f"{path} must call longhaul.define_job(...) exactly once; it called it {len(_defined)} times")
    own = os.path.realpath(__file__)
    local = set()
    for loaded in list(sys.modules.values()):
        file = getattr(loaded, "__file__", None)
        if not file:
            continue
        real = os.path.realpath(file)
        parts = real.split(os.sep)
        if real.startswith(folder + os.sep) and real != own and real.endswith(".py") and "site-packages" not in parts and "dist-packages" not in parts:
            local.add(real)
    return _defined[0], sorted(local)


class _Usage(Exception):
    """The job file is not a job; said as it is, without a traceback."""


def _job_frames(error: BaseException) -> str:
    """The traceback of an error raised by the job's code, from its first frame in the job's own code."""
    tb = error.__traceback__
    own = os.path.realpath(__file__)
    while tb is not None and (tb.tb_frame.f_code.co_filename.startswith("<frozen ") or os.path.realpath(tb.tb_frame.f_code.co_filename) == own):
        tb = tb.tb_next  # longhaul's own frames, and the import machinery's that load the job file
    return "".join(traceback.format_exception(type(error), error, tb)).rstrip()


def _describe(path: str) -> int:
    channel = _Channel()
    try:
        job, modules = _load(path)
        answer: dict[str, Any] = {
            "name": job.name, "total": job.total, "seed": job.seed, "params": job.params,
            "output": job.output.description, "retries": job.retries,
            "checkpointEvery": max(1, round(job.checkpoint_every * 1000)), "validate": job.validate is not None,
            "datasetChecks": list(job.dataset_checks), "input": job.input.description if job.input else None,
            "concurrency": job.concurrency, "asyncItem": job.is_async,
            "rateLimit": job.rate_limit.description if job.rate_limit else None,
            "modules": modules, "executable": sys.executable, "runtime": _runtime(),
            "numpyFile": getattr(sys.modules.get("numpy"), "__file__", None),
        }
    except _Usage as error:
        answer = {"error": str(error)}
    except BaseException as error:  # the job file failed to load: its own traceback says why
        answer = {"error": f"{type(error).__name__}: {error}", "stack": _job_frames(error)}
    channel.send(answer)
    return 0


def _runtime() -> dict[str, Any]:
    """What the items depend on besides the job's code (part of its fingerprint): Python's major.minor (a patch release
    changes no result; a minor one may: hash(), random's algorithms, float formatting), and numpy's exact version, as a
    lockfile pins a dependency (ctx.rng and npy output use it, whether the job imports it or not)."""
    try:
        import numpy

        numpy_version: Optional[str] = numpy.__version__
    except ImportError:
        numpy_version = None
    return {"python": f"{sys.version_info[0]}.{sys.version_info[1]}", "numpy": numpy_version}


_ONE_REQUEST = {"requests": 1.0}  # taken before each call of `item`, as TypeScript's ONE_REQUEST


class _Limits:
    """This worker process's side of the run's rate limit. The limit itself is one pacer in the coordinator, the one a
    TypeScript job's threads share, so every worker process of the run together keeps it: a call asks its place
    (`take`), and waits what the answer (`granted`) says. A "rate limited" answer is told to the coordinator
    (`limited`), which holds every worker's calls until its Retry-After (`pause`)."""

    def __init__(self, channel: _Channel) -> None:
        self.channel = channel
        self.units: frozenset[str] = frozenset()
        self.text = ""
        self.paused_until = 0.0  # monotonic: no call starts before it
        self.lock = threading.Lock()
        self.asked = 0
        self.answers: dict[int, Callable[[float], None]] = {}

    def configure(self, setup: dict[str, Any]) -> None:
        self.units, self.text = frozenset(setup.get("limitedUnits", ())), str(setup.get("limitText", ""))

    def place_sync(self, amounts: dict[str, float]) -> float:
        """Seconds to wait before a call that takes `amounts` (0: none)."""
        limited = self._limited(amounts)
        if not limited:
            return self.pause_left()
        answered = threading.Event()
        box: list[float] = []
        self._ask(limited, lambda at: (box.append(at), answered.set()))
        answered.wait()
        return max(box[0] - time.time(), self.pause_left(), 0.0)

    async def place_async(self, amounts: dict[str, float]) -> float:
        limited = self._limited(amounts)
        if not limited:
            return self.pause_left()
        loop = asyncio.get_running_loop()
        future: asyncio.Future[float] = loop.create_future()
        self._ask(limited, lambda at: loop.call_soon_threadsafe(_settle, future, at))
        return max(await future - time.time(), self.pause_left(), 0.0)

    def granted(self, message: dict[str, Any]) -> None:
        """The coordinator's answer (read by the channel's thread)."""
        with self.lock:
            answer = self.answers.pop(message["id"], None)
        if answer is not None:
            answer(float(message["atMs"]) / 1000)  # seconds since the epoch, as time.time()

    def pause(self, seconds: float) -> None:
        self.paused_until = max(self.paused_until, time.monotonic() + seconds)

    def rate_limited(self, error: RateLimited, n: int) -> Optional[float]:
        """The n-th "rate limited" answer to an item in a row: seconds to wait before its next call, or None when it
        must fail. This process holds its calls until the Retry-After at once; the coordinator holds the others'."""
        wait = 0.0 if n >= _RATE_LIMITED_TRIES else _rate_limited_wait(error, n)
        after = error.retry_after_s if error.retry_after_s else None
        if after is not None:
            self.pause(after)
        self.channel.send({"type": "limited", "retryAfterMs": None if after is None else after * 1000,
                           "waitMs": round(wait * 1000, 3)})
        return None if n >= _RATE_LIMITED_TRIES else wait

    def _limited(self, amounts: dict[str, float]) -> dict[str, float]:
        return {unit: amount for unit, amount in amounts.items() if unit in self.units and amount > 0}

    def pause_left(self) -> float:
        """Seconds until the last Retry-After this process was told of is up (0: none)."""
        return max(0.0, self.paused_until - time.monotonic())

    def _ask(self, amounts: dict[str, float], answer: Callable[[float], None]) -> None:
        with self.lock:
            self.asked += 1
            ask = self.asked
            self.answers[ask] = answer
        self.channel.send({"type": "take", "id": ask, "amounts": amounts})


def _settle(future: "asyncio.Future[float]", value: float) -> None:
    if not future.done():
        future.set_result(value)


class _Worker:
    def __init__(self, channel: _Channel, job: Job, setup: dict[str, Any], inbox: "queue.Queue[dict[str, Any]]",
                 stop: threading.Event, limits: _Limits) -> None:
        self.channel, self.job, self.setup, self.inbox, self.stop = channel, job, setup, inbox, stop
        self.unreported = 0
        self.reported_at = time.monotonic()
        # Items in flight at once in this process (its share of --concurrency). An `async def item` runs on one asyncio
        # loop, kept across ranges (a job's connections and clients live as long as the process), at any concurrency.
        self.slots = int(setup.get("slots", 1))
        self.loop = asyncio.new_event_loop() if job.is_async else None
        self.limits = limits
        limits.configure(setup)
        self._fetch_threads: Any = None
        self.in_flight = 0  # items in flight over the ranges the worker makes at once (an async item's)
        self.freed: Optional[asyncio.Future[None]] = None  # set when one of them ends
        if limits.units:
            # ctx.fetch's HTTP client loads now (tens of ms, more on a busy machine), not in a call already given its
            # place under the limit: a call that late would crowd the next ones into one window.
            import urllib.request  # noqa: F401

    def fetch_threads(self) -> Any:
        """The threads ctx.fetch makes its calls in (urllib blocks): one per item in flight, made on first use."""
        if self._fetch_threads is None:
            from concurrent.futures import ThreadPoolExecutor

            self._fetch_threads = ThreadPoolExecutor(max_workers=max(1, self.slots), thread_name_prefix="longhaul-fetch")
        return self._fetch_threads

    def send(self, message: dict[str, Any]) -> None:
        self.channel.send(message)

    def serve(self) -> None:
        if self.loop is not None:
            self.loop.run_until_complete(self.serve_async())
        while True:
            message = self.inbox.get()
            if message["type"] == "task":
                result, hashes = self.make(message)
                self.channel.send(result, hashes)

    async def serve_async(self) -> None:
        """An `async def item`'s ranges, each started as it comes: the coordinator hands a worker two at once when it
        has several items in flight, and their items share its slots, so that while one range's last items finish and
        its shard is written, the next one's fill the slots it frees (as a TypeScript thread's two ranges do)."""
        loop = asyncio.get_running_loop()
        ranges: set[asyncio.Future[None]] = set()
        while True:
            message = await loop.run_in_executor(None, self.inbox.get)
            if message["type"] == "task":
                made = asyncio.ensure_future(self.make_async(message))
                ranges.add(made)
                made.add_done_callback(_range_done(ranges))

    async def make_async(self, task: dict[str, Any]) -> None:
        """make() for an `async def item`: the range's items on the loop, its files written in a thread meanwhile."""
        records = self.records_of(task)
        started = time.monotonic()
        shard = self.job.output._new_shard()
        hashes = bytearray(32 * (task["end"] - task["start"]))
        usage: dict[str, Number] = {}
        failed_usage: dict[str, Number] = {}
        index, failure, slowest = await self.make_in_flight(
            task["start"], task["end"], records, started + task["checkpointMs"] / 1000, task["maxBytes"], shard, hashes,
            usage, failed_usage)
        self.flush_finished()
        result, hashes = await asyncio.get_running_loop().run_in_executor(
            None, self.result_of, task, shard, hashes, index, failure, slowest, usage, failed_usage, started)
        self.channel.send(result, hashes)

    def records_of(self, task: dict[str, Any]) -> Optional[list[Any]]:
        """An input job's records of the range, read by the coordinator; None for a generator job."""
        start, end = task["start"], task["end"]
        records = task.get("records")
        if (records is None) != (self.job.input is None) or (records is not None and len(records) != end - start):
            raise RuntimeError(f"the coordinator sent {'no' if records is None else len(records)} records for items {start}–{end - 1} of {'an input' if self.job.input else 'a generator'} job: are longhaul.py and the longhaul CLI from the same version?")
        return records

    def flush_finished(self) -> None:
        if self.unreported:
            self.send({"type": "finished", "count": self.unreported})
            self.unreported = 0

    def finished(self, now: float) -> None:
        """Counts a finished item; tells the coordinator at most every 50 ms (rate, ETA and stalls need no more)."""
        self.unreported += 1
        if now - self.reported_at >= 0.05:
            self.send({"type": "finished", "count": self.unreported})
            self.unreported, self.reported_at = 0, now

    def make(self, task: dict[str, Any]) -> tuple[dict[str, Any], bytearray]:
        """Makes the range (or its first part, up to the checkpoint deadline); its result and its items' hashes."""
        start, end = task["start"], task["end"]
        records = self.records_of(task)
        started = time.monotonic()
        deadline = started + task["checkpointMs"] / 1000
        shard = self.job.output._new_shard()
        hashes = bytearray(32 * (end - start))  # its full size at once: growing it item by item copied it as it grew
        failure: Optional[dict[str, Any]] = None
        slowest = 0.0
        item_started = started
        index = start
        # What the items taken reported with ctx.usage, and what attempts that failed before reported: committed with them.
        usage: dict[str, Number] = {}
        failed_usage: dict[str, Number] = {}
        while index < end:
            if self.stop.is_set():
                break
            if index > start and (item_started >= deadline or shard.bytes >= task["maxBytes"]):
                break
            made = self.make_item(index, index if records is None else records[index - start])
            item_ended = time.monotonic()
            slowest = max(slowest, item_ended - item_started)
            item_started = item_ended
            if made is None:  # abandoned: the run is stopping
                break
            _add_usage(failed_usage, made["failedUsage"])  # a failed item's attempts go with the items before it
            if "failure" in made:
                failure = made["failure"]
                break
            try:
                hashes[32 * (index - start):32 * (index - start + 1)] = shard.add(made["value"])
            except _ValueProblem as problem:
                failure = {"kind": "value", "index": index, "attempts": 1, "message": str(problem),
                           "field": problem.field, "value": problem.value, "reason": problem.reason}
                break
            _add_usage(usage, made["usage"])
            self.finished(item_ended)
            index += 1
        self.flush_finished()
        return self.result_of(task, shard, hashes, index, failure, slowest, usage, failed_usage, started)

    def result_of(self, task: dict[str, Any], shard: _Shard, hashes: bytearray, index: int,
                  failure: Optional[dict[str, Any]], slowest: float, usage: dict[str, Number],
                  failed_usage: dict[str, Number], started: float) -> tuple[dict[str, Any], bytearray]:
        """The range's result, once items start … index-1 are made: their files written and fsynced under their staged
        names, and their hashes."""
        start = task["start"]
        result: dict[str, Any] = {
            "type": "result", "start": start, "end": start, "files": [], "hashBytes": 0,
            "busyMs": round((time.monotonic() - started) * 1000), "slowestItemMs": round(slowest * 1000),
        }
        if failure is not None:
            result["failure"] = failure
        if index == start:
            return result, bytearray()
        try:
            result["files"] = self.write(shard, start, index, task["token"])
        except OSError as error:
            result["failure"] = {"kind": "durability", "message": str(error)}
            return result, bytearray()
        result["end"] = index
        if usage:
            result["usage"] = usage
        if failed_usage:
            result["failedUsage"] = failed_usage
        del hashes[32 * (index - start):]  # the items not made: the range ended early (its checkpoint deadline, a stop)
        result["hashBytes"] = len(hashes)
        if os.environ.get("LONGHAUL_MEASURE_RETAINED") == "1":
            result["retained"] = {"thread": os.getpid(), "bytes": _retained_bytes()}
        return result, hashes

    async def make_in_flight(self, start: int, end: int, records: Optional[list[Any]], deadline: float, max_bytes: int,
                             shard: _Shard, hashes: bytearray, usage: dict[str, Number],
                             failed_usage: dict[str, Number]) -> tuple[int, Optional[dict[str, Any]], float]:
        """The range's items with up to `slots` in flight, started in index order and taken in index order (one that
        finishes before those below it waits for them), so the shard is byte for byte the one made one at a time. At
        most 2 × slots are started and not yet taken. Once the deadline, the size cap or the run's stop is reached, or
        an item failed, nothing more starts; those in flight finish (a stop commits them; after a failure they are
        dropped and made again by the resume). Returns the first index not taken, the failure, the slowest item."""

        async def one(index: int) -> tuple[int, Optional[dict[str, Any]], float]:
            began = time.monotonic()
            try:
                made = await self.make_item_async(index, index if records is None else records[index - start])
            finally:
                self.in_flight -= 1
                if self.freed is not None and not self.freed.done():
                    self.freed.set_result(None)
            return index, made, time.monotonic() - began

        held: dict[int, tuple[Optional[dict[str, Any]], float]] = {}
        running: set[asyncio.Future[tuple[int, Optional[dict[str, Any]], float]]] = set()
        taken = launched = start
        closed = ended = False
        failure: Optional[dict[str, Any]] = None
        slowest = 0.0
        while True:
            while not closed and launched < end and self.in_flight < self.slots and launched - taken < 2 * self.slots:
                if self.stop.is_set() or (launched > start and (time.monotonic() >= deadline or shard.bytes >= max_bytes)):
                    closed = True
                    break
                self.in_flight += 1
                running.add(asyncio.ensure_future(one(launched)))
                launched += 1
            # Every slot is taken by the worker's other range: this one starts its next item when one is freed.
            freed = None
            if not closed and launched < end and launched - taken < 2 * self.slots and self.in_flight >= self.slots:
                if self.freed is None or self.freed.done():
                    self.freed = asyncio.get_running_loop().create_future()
                freed = self.freed
            if not running and freed is None:
                return taken, failure, slowest
            done, _ = await asyncio.wait(running if freed is None else running | {freed}, return_when=asyncio.FIRST_COMPLETED)
            for future in done:
                if future is freed:
                    continue
                running.discard(future)
                index, made, took = future.result()
                held[index] = (made, took)
            now = time.monotonic()
            while not ended and taken in held:
                made, took = held.pop(taken)
                if made is not None:
                    _add_usage(failed_usage, made["failedUsage"])
                if made is not None and "failure" not in made:
                    try:
                        hashes[32 * (taken - start):32 * (taken - start + 1)] = shard.add(made["value"])
                    except _ValueProblem as problem:
                        made = {"failure": {"kind": "value", "index": taken, "attempts": 1, "message": str(problem),
                                            "field": problem.field, "value": problem.value, "reason": problem.reason}}
                    else:
                        _add_usage(usage, made["usage"])
                if made is None or "failure" in made:  # abandoned (the run stops while it fails), or failed for good
                    failure = None if made is None else made["failure"]
                    ended = closed = True
                    break
                slowest = max(slowest, took)
                self.finished(now)
                taken += 1
            if ended:
                held.clear()

    async def make_item_async(self, index: int, given: Any) -> Optional[dict[str, Any]]:
        """make_item for an `async def item`, awaited on the worker's loop beside the others in flight."""
        attempt, limited = 1, 0
        failed: dict[str, Number] = {}  # what attempts that raised reported with ctx.usage
        while True:
            wait = await self.limits.place_async(_ONE_REQUEST)
            if not await self.wait_unless_stopped(wait):
                return None
            ctx = ItemContext(index, self.setup["params"], self.setup["seed"], self)
            try:
                return {"value": await self.job.item(given, ctx), "usage": ctx._used, "failedUsage": failed}
            except RateLimited as error:
                _add_usage(failed, ctx._used)
                if self.stop.is_set():
                    return None
                limited += 1
                pause = self.limits.rate_limited(error, limited)
                if pause is None:
                    return {**_rate_limited_failure(index, attempt, limited, error, self.limits.text), "failedUsage": failed}
                if not await self.wait_unless_stopped(pause):
                    return None
            except (Exception, SystemExit) as error:
                _add_usage(failed, ctx._used)
                if self.stop.is_set():
                    return None
                if attempt > self.setup["retries"]:
                    return {"failure": {"kind": "item", "index": index, "attempts": attempt,
                                        "message": f"{type(error).__name__}: {error}", "stack": _job_frames(error)},
                            "failedUsage": failed}
                await asyncio.sleep(0.1 * 2 ** (attempt - 1))
                attempt += 1
                limited = 0

    async def wait_unless_stopped(self, seconds: float) -> bool:
        """Waits `seconds` (a call's place in the rate limit's line, or a backoff: up to a minute), and then for as long
        as a service's Retry-After told meanwhile holds the run's calls (another process's call may be answered 429
        while this one waits its turn); False as soon as the run stops, which leaves the item for the next run."""
        until = time.monotonic() + seconds
        while True:
            left = max(until - time.monotonic(), self.limits.pause_left())
            if left <= 0:
                return True
            if self.stop.is_set():
                return False
            await asyncio.sleep(min(left, 0.05))

    def wait_unless_stopped_sync(self, seconds: float) -> bool:
        """wait_unless_stopped for a plain item, in its thread."""
        until = time.monotonic() + seconds
        while True:
            left = max(until - time.monotonic(), self.limits.pause_left())
            if left <= 0:
                return True
            if self.stop.wait(left):
                return False

    def make_item(self, index: int, given: Any) -> Optional[dict[str, Any]]:
        """One item (from its index, or its record), retried with backoff up to the job's retries; None when the run
        stops while it fails."""
        attempt, limited = 1, 0
        failed: dict[str, Number] = {}  # what attempts that raised reported with ctx.usage
        while True:
            wait = self.limits.place_sync(_ONE_REQUEST)
            if not self.wait_unless_stopped_sync(wait):
                return None
            ctx = ItemContext(index, self.setup["params"], self.setup["seed"], self)
            try:
                return {"value": self.job.item(given, ctx), "usage": ctx._used, "failedUsage": failed}
            except RateLimited as error:
                _add_usage(failed, ctx._used)
                if self.stop.is_set():
                    return None
                limited += 1
                pause = self.limits.rate_limited(error, limited)
                if pause is None:
                    return {**_rate_limited_failure(index, attempt, limited, error, self.limits.text), "failedUsage": failed}
                if not self.wait_unless_stopped_sync(pause):
                    return None  # the run stops: the item is left for the next run
            except (Exception, SystemExit) as error:
                _add_usage(failed, ctx._used)
                if self.stop.is_set():
                    return None
                if attempt > self.setup["retries"]:
                    return {"failure": {"kind": "item", "index": index, "attempts": attempt,
                                        "message": f"{type(error).__name__}: {error}", "stack": _job_frames(error)},
                            "failedUsage": failed}
                time.sleep(0.1 * 2 ** (attempt - 1))
                attempt += 1
                limited = 0

    def write(self, shard: _Shard, start: int, end: int, token: int) -> list[dict[str, Any]]:
        """The shard's files under their staged names, each fsynced, then the folder; what was written is removed on failure."""
        folder = self.setup["dataDir"]
        written: list[str] = []
        files = []
        try:
            for suffix, chunks in shard.finish():
                name = f"{start:012d}-{end:012d}.{suffix}"
                path = os.path.join(folder, f".claim-{self.setup['runTag']}-{token}-{name}")
                digest, size = hashlib.sha256(), 0
                written.append(path)
                with open(path, "wb") as file:
                    for chunk in chunks:
                        file.write(chunk)
                        digest.update(chunk)
                        size += len(chunk)
                    file.flush()
                    os.fsync(file.fileno())
                files.append({"name": name, "bytes": size, "sha256": digest.hexdigest()})
            folder_fd = os.open(folder, os.O_RDONLY)
            try:
                os.fsync(folder_fd)
            finally:
                os.close(folder_fd)
        except OSError:
            for path in written:
                with contextlib.suppress(OSError):
                    os.remove(path)
            raise
        return files


def _range_done(ranges: set[Any]) -> Callable[[Any], None]:
    """A range of an async item's worker ended: forgotten; one that raised (longhaul's bug, not the job's) ends the
    worker, as it does a plain item's, and the coordinator makes the range again in a new one."""

    def done(made: Any) -> None:
        ranges.discard(made)
        if not made.cancelled() and made.exception() is not None:
            traceback.print_exception(type(made.exception()), made.exception(), made.exception().__traceback__)
            os._exit(1)

    return done


def _retained_bytes() -> int:
    """For preflight's memory check: this process's resident memory after a full collection (Linux; else its peak)."""
    import gc

    gc.collect()
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _read_channel(channel: _Channel, inbox: "queue.Queue[dict[str, Any]]", stop: threading.Event, limits: _Limits) -> None:
    """Reads the coordinator's messages; the channel closing ends this process at once (nothing is left running)."""
    try:
        for line in channel.lines():
            message = json.loads(line)
            if message["type"] == "stop":
                stop.set()
            elif message["type"] == "granted":
                limits.granted(message)
            elif message["type"] == "pause":
                limits.pause(message["ms"] / 1000)
            else:
                inbox.put(message)
    except (OSError, ValueError):
        pass
    os._exit(0)


def _work(path: str) -> int:
    _die_with_parent()
    channel = _Channel()
    inbox: "queue.Queue[dict[str, Any]]" = queue.Queue()
    stop = threading.Event()
    limits = _Limits(channel)
    threading.Thread(target=_read_channel, args=(channel, inbox, stop, limits), daemon=True, name="longhaul-channel").start()
    send = channel.send
    try:
        # numpy loads now, with the job, not in the first item that draws from ctx.rng: that item's time sizes the ranges.
        # Both load before the setup is read: the coordinator starts this process while it opens the run's journal.
        with contextlib.suppress(ImportError):
            import numpy  # noqa: F401
        job, _ = _load(path)
    except BaseException as error:
        send({"type": "broken", "message": f"{type(error).__name__}: {error}", "stack": _job_frames(error)})
        return 1
    setup = inbox.get()
    if setup.get("stop"):
        stop.set()
    send({"type": "ready"})
    _Worker(channel, job, setup, inbox, stop, limits).serve()
    return 0


def _main(argv: list[str]) -> int:
    if len(argv) == 2 and argv[0] == "describe":
        return _describe(argv[1])
    if len(argv) == 3 and argv[0] == "validate":
        return _validate(argv[1], argv[2])
    if len(argv) == 2 and argv[0] == "worker":
        return _work(argv[1])
    print("usage: longhaul.py describe JOB.py | worker JOB.py | validate JOB.py DIR (started by longhaul)", file=sys.stderr)
    return 2


if __name__ == "__main__":
    # Run as a script, this file is __main__; the job's `import longhaul` must find the same module, where define_job keeps the job.
    import longhaul as _self

    sys.exit(_self._main(sys.argv[1:]))
