"""Tests for longhaul.py: python3 -m unittest discover -s python"""
from __future__ import annotations

import contextlib
import io
import json
import re
import os
import tempfile
import threading
import unittest
from pathlib import Path
from typing import Iterator
from unittest import mock

import longhaul


def identity(fd: int) -> str:
    """The LONGHAUL_EVENTS_ID a supervisor would give for channel `fd`."""
    st = os.fstat(fd)
    return f"{st.st_dev}:{st.st_ino}"


@contextlib.contextmanager
def events_env(value: str | None, channel_id: str | None = None) -> Iterator[None]:
    """Runs the block with LONGHAUL_EVENTS set to `value` (unset when None), and LONGHAUL_EVENTS_ID to `channel_id`."""
    env = {k: v for k, v in os.environ.items() if k not in ("LONGHAUL_EVENTS", "LONGHAUL_EVENTS_ID", "LONGHAUL_RESUME_FROM")}
    if value is not None:
        env["LONGHAUL_EVENTS"] = value
    if channel_id is not None:
        env["LONGHAUL_EVENTS_ID"] = channel_id
    with mock.patch.dict(os.environ, env, clear=True):
        yield
        os.environ.pop("LONGHAUL_EVENTS", None)
        longhaul._events_fd()  # sees the change and closes what it opened for this test


def report_everything() -> None:
    longhaul.progress(450, total=1000, unit="epoch")
    longhaul.checkpoint("ckpt/epoch-00012.npz", step=12)
    longhaul.metric("loss", 0.42, step=12)
    longhaul.log("hello")


class TestLonghaul(unittest.TestCase):
    def setUp(self) -> None:
        self.dir = tempfile.TemporaryDirectory()
        self.addCleanup(self.dir.cleanup)
        self.folder = Path(self.dir.name)

    def test_noop_when_unset(self) -> None:
        with events_env(None):
            report_everything()  # nothing to assert but that nothing is written or raised
            self.assertIsNone(longhaul.resume_from())
        self.assertEqual(list(self.folder.iterdir()), [])

    def test_path_mode_writes_one_json_line_per_event(self) -> None:
        events = self.folder / "events.jsonl"
        with events_env(str(events)):
            report_everything()
        lines = [json.loads(line) for line in events.read_text().splitlines()]
        self.assertEqual(lines[0], {"type": "progress", "done": 450, "total": 1000, "unit": "epoch"})
        self.assertEqual(lines[1], {"type": "checkpoint", "path": os.path.abspath("ckpt/epoch-00012.npz"), "step": 12})
        self.assertEqual(lines[2], {"type": "metric", "name": "loss", "value": 0.42, "step": 12})
        self.assertEqual(lines[3], {"type": "log", "level": "info", "message": "hello"})

    def test_path_mode_appends(self) -> None:
        events = self.folder / "events.jsonl"
        events.write_text('{"type":"log","level":"info","message":"earlier"}\n')
        with events_env(str(events)):
            longhaul.progress(1)
        self.assertEqual(len(events.read_text().splitlines()), 2)

    def test_fd_mode_writes_to_a_pipe_and_leaves_it_open(self) -> None:
        read_end, write_end = os.pipe()
        self.addCleanup(os.close, read_end)
        with events_env(str(write_end), identity(write_end)):
            longhaul.progress(3, total=None)
        os.write(write_end, b"still open\n")  # raises EBADF if longhaul closed it
        os.close(write_end)
        with os.fdopen(read_end, "rb", closefd=False) as pipe:
            lines = pipe.read().decode().splitlines()
        self.assertEqual(json.loads(lines[0]), {"type": "progress", "done": 3, "total": None})
        self.assertEqual(lines[1], "still open")

    def test_concurrent_lines_never_interleave(self) -> None:
        events = self.folder / "events.jsonl"
        message = "x" * 2000
        with events_env(str(events)):
            threads = [threading.Thread(target=lambda: [longhaul.log(message) for _ in range(50)]) for _ in range(4)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
        lines = events.read_text().splitlines()
        self.assertEqual(len(lines), 200)
        self.assertTrue(all(json.loads(line)["message"] == message for line in lines))

    def test_nan_and_infinity_become_null(self) -> None:
        events = self.folder / "events.jsonl"
        with events_env(str(events)):
            longhaul.metric("loss", float("nan"), step=1)
            longhaul.metric("loss", float("inf"))
            longhaul.progress(float("-inf"), total=float("nan"))
        lines = [json.loads(line, parse_constant=self.fail) for line in events.read_text().splitlines()]
        self.assertEqual([line["value"] for line in lines[:2]], [None, None])
        self.assertEqual((lines[2]["done"], lines[2]["total"]), (None, None))

    def test_closed_fd_does_not_raise_and_turns_reporting_off(self) -> None:
        read_end, write_end = os.pipe()
        channel_id = identity(write_end)
        os.close(write_end)
        with events_env(str(write_end), channel_id), mock.patch("sys.stderr", new_callable=io.StringIO) as stderr:
            longhaul.progress(1)  # EBADF
            reused = os.open(self.folder / "unrelated", os.O_WRONLY | os.O_CREAT)  # may get the freed fd number
            report_everything()
            os.close(reused)
        os.close(read_end)
        self.assertEqual(stderr.getvalue(), "")
        self.assertEqual((self.folder / "unrelated").read_bytes(), b"")

    def test_reader_gone_does_not_raise(self) -> None:
        read_end, write_end = os.pipe()
        os.close(read_end)
        self.addCleanup(os.close, write_end)
        with events_env(str(write_end), identity(write_end)), mock.patch("sys.stderr", new_callable=io.StringIO) as stderr:
            report_everything()  # EPIPE (Python ignores SIGPIPE)
        self.assertEqual(stderr.getvalue(), "")

    def test_exec_channel_never_misdirected_a_data_file_on_the_fd_is_left_untouched(self) -> None:
        # A subprocess inherits LONGHAUL_EVENTS=N and the channel's identity, but its fd N is the user's data file.
        read_end, write_end = os.pipe()
        channel_id = identity(write_end)
        os.close(read_end)
        os.close(write_end)
        data = self.folder / "data.bin"
        data.write_bytes(b"user data")
        fd = os.open(data, os.O_RDWR | os.O_APPEND)
        try:
            with events_env(str(fd), channel_id), mock.patch("sys.stderr", new_callable=io.StringIO) as stderr:
                report_everything()
        finally:
            os.close(fd)
        self.assertEqual(data.read_bytes(), b"user data")
        self.assertEqual(stderr.getvalue(), "")

    def test_exec_channel_never_misdirected_another_pipe_on_the_fd_is_left_untouched(self) -> None:
        # Under a spawn or forkserver pool, the fd may be multiprocessing's own pipe: a pipe, but not the channel.
        channel_read, channel_write = os.pipe()
        other_read, other_write = os.pipe()
        for fd in (channel_read, channel_write, other_read, other_write):
            self.addCleanup(os.close, fd)
        os.set_blocking(other_read, False)
        with events_env(str(other_write), identity(channel_write)):
            report_everything()
        with self.assertRaises(BlockingIOError):
            os.read(other_read, 1)

    def test_exec_channel_never_misdirected_an_fd_without_an_identity_is_not_written(self) -> None:
        read_end, write_end = os.pipe()
        self.addCleanup(os.close, read_end)
        self.addCleanup(os.close, write_end)
        os.set_blocking(read_end, False)
        with mock.patch.object(longhaul, "_warned", False), events_env(str(write_end)), mock.patch("sys.stderr", new_callable=io.StringIO) as stderr:
            report_everything()
        with self.assertRaises(BlockingIOError):
            os.read(read_end, 1)
        self.assertEqual(len(stderr.getvalue().splitlines()), 1)
        self.assertIn("LONGHAUL_EVENTS_ID", stderr.getvalue())

    def test_resume_from_reads_the_environment(self) -> None:
        with mock.patch.dict(os.environ, {"LONGHAUL_RESUME_FROM": "/runs/ckpt/epoch-00005.npz"}):
            self.assertEqual(longhaul.resume_from(), "/runs/ckpt/epoch-00005.npz")

    def test_save_atomic_replaces_and_leaves_no_temp_files(self) -> None:
        target = self.folder / "model.bin"
        target.write_bytes(b"old")
        returned = longhaul.save_atomic(target, lambda f: f.write(b"new contents"))
        self.assertEqual(returned, str(target.resolve()))
        self.assertEqual(target.read_bytes(), b"new contents")
        self.assertEqual([p.name for p in self.folder.iterdir()], ["model.bin"])

    def test_save_atomic_keeps_the_old_file_when_the_writer_fails(self) -> None:
        target = self.folder / "model.bin"
        target.write_bytes(b"old")

        def half_write(file: object) -> None:
            file.write(b"half")  # type: ignore[attr-defined]
            raise RuntimeError("crashed mid-write")

        with self.assertRaises(RuntimeError):
            longhaul.save_atomic(target, half_write)
        self.assertEqual(target.read_bytes(), b"old")
        self.assertEqual([p.name for p in self.folder.iterdir()], ["model.bin"])


class TestMapJobs(unittest.TestCase):
    """The parts of a map job that live in Python: define_job's checks, each item's random streams, npy rows."""

    def setUp(self) -> None:
        self.addCleanup(longhaul._defined.clear)

    def test_define_job_refuses_what_it_cannot_run_saying_what_is_wrong(self) -> None:
        item = lambda index, ctx: index  # noqa: E731
        for kwargs, said in [
            ({"name": "a b"}, "name 'a b'"),
            ({"total": 0}, "total must be a whole number above 0"),
            ({"output": "npy"}, "output must be longhaul.jsonl() or longhaul.npy"),
            ({"seed": -1}, "seed must be a whole number from 0 to 4294967295"),
            ({"params": {"when": object()}}, "params must be JSON values"),
            ({"input": longhaul.jsonl_input("prompts.jsonl")}, "an input job takes its total from the input; remove `total`"),
            ({"input": "prompts.jsonl"}, "input must be longhaul.jsonl_input(path)"),
            ({"dataset_checks": {"balanced": True}}, "dataset_checks must be a dict of functions by name"),
        ]:
            with self.subTest(kwargs=kwargs), self.assertRaisesRegex(TypeError, re.escape(said)):
                longhaul.define_job(**{"name": "ok", "total": 3, "item": item, **kwargs})
        with self.assertRaisesRegex(TypeError, "dtype 'uint64'"):
            longhaul.npy({"x": "uint64"})
        with self.assertRaisesRegex(TypeError, "a non-empty list of paths"):
            longhaul.files_input([])
        self.assertEqual(longhaul._defined, [])

    def test_rate_limit_and_ctx_usage_refuse_what_they_cannot_count_saying_what_is_wrong(self) -> None:
        item = lambda index, ctx: index  # noqa: E731
        for call, said in [
            (lambda: longhaul.rate_limit(requests=600, per="day"), 'per must be "second", "minute" or "hour"'),
            (lambda: longhaul.rate_limit(per="minute"), "name at least one unit"),
            (lambda: longhaul.rate_limit(requests=0), "requests=0: give how many per minute, a number above 0"),
            (lambda: longhaul.rate_limit(tokens=True), "tokens=True"),
            (lambda: longhaul.define_job(name="ok", total=3, item=item, rate_limit={"requests": 600}),
             "rate_limit must be longhaul.rate_limit("),
            (lambda: longhaul.ItemContext(0, {}, 0).usage(tokens=-1), "ctx.usage: tokens is -1"),
            (lambda: longhaul.ItemContext(0, {}, 0).usage({"usd": float("nan")}), "ctx.usage: usd is nan"),
        ]:
            with self.subTest(said=said), self.assertRaisesRegex(TypeError, re.escape(said)):
                call()
        self.assertEqual(longhaul.rate_limit(requests=500, tokens=90_000).description,
                         {"per": "minute", "requests": 500, "tokens": 90_000})

    def test_ctx_usage_adds_up_the_amounts_of_an_attempt(self) -> None:
        ctx = longhaul.ItemContext(0, {}, 0)
        ctx.usage(tokens=800, usd=0.001)
        ctx.usage({"tokens": 12})
        self.assertEqual(ctx._used, {"tokens": 812, "usd": 0.001})

    def test_retry_after_is_read_as_seconds_or_an_http_date(self) -> None:
        import email.utils
        import time

        self.assertEqual(longhaul._retry_after_s("2"), 2.0)
        self.assertEqual(longhaul._retry_after_s(" 0.5 "), 0.5)
        self.assertIsNone(longhaul._retry_after_s(None))
        self.assertIsNone(longhaul._retry_after_s("soon"))
        later = longhaul._retry_after_s(email.utils.formatdate(time.time() + 30, usegmt=True))
        self.assertTrue(later is not None and 28 <= later <= 31, later)
        self.assertEqual(longhaul._retry_after_s(email.utils.formatdate(time.time() - 30, usegmt=True)), 0.0)

    def test_determinism_an_items_random_streams_depend_on_seed_and_index_only(self) -> None:
        draws = lambda seed, index: (  # noqa: E731
            list(longhaul.ItemContext(index, {}, seed).rng.integers(0, 2**31, 4)),
            longhaul.ItemContext(index, {}, seed).random.random(),
        )
        later = [draws(7, i) for i in reversed(range(5))][::-1]  # made in another order
        self.assertEqual([draws(7, i) for i in range(5)], later)
        self.assertNotEqual(draws(7, 0), draws(7, 1))
        self.assertNotEqual(draws(7, 0), draws(8, 0))

    def test_npy_rows_are_written_only_when_every_value_fits_the_dtype(self) -> None:
        import numpy as np

        shard = longhaul.npy({"frame": "uint8", "score": "float32"})._new_shard()
        for index in range(3):
            shard.add({"frame": np.full((2, 2), index, dtype=np.uint8), "score": [index / 3, 1]})
        for record, field in [
            ({"frame": [[300, 0], [0, 0]], "score": [0, 0]}, "frame[0, 0]"),
            ({"frame": [[1.5, 0], [0, 0]], "score": [0, 0]}, "frame[0, 0]"),
            ({"frame": [[0, 0], [0, 0]], "score": [1e39, 0]}, "score[0]"),
            ({"frame": [[0, 0, 0]], "score": [0, 0]}, "frame"),
            ({"score": [0, 0]}, "frame"),
        ]:
            with self.subTest(record=record), self.assertRaises(longhaul._ValueProblem) as caught:
                shard.add(record)
            self.assertEqual(caught.exception.field, field)
        files = dict(shard.finish())  # the refused records left nothing behind
        frames = np.load(io.BytesIO(b"".join(files["frame.npy"])))
        scores = np.load(io.BytesIO(b"".join(files["score.npy"])))
        self.assertEqual((frames.shape, frames.dtype, scores.shape, scores.dtype), ((3, 2, 2), np.uint8, (3, 2), np.float32))
        self.assertEqual(frames[2].tolist(), [[2, 2], [2, 2]])


class TestOpenRun(unittest.TestCase):
    def setUp(self) -> None:
        self.dir = tempfile.TemporaryDirectory()
        self.addCleanup(self.dir.cleanup)
        self.data = Path(self.dir.name) / "data"
        self.data.mkdir()

    def write_index(self, shards: list[tuple[int, int]], items: int) -> None:
        for start, end in shards:
            name = f"{start:012d}-{end:012d}.jsonl"
            (self.data / name).write_text("".join(json.dumps({"i": i}) + "\n" for i in range(start, end)))
        index = {"format": "jsonl", "items": items, "shards": [{"start": s, "end": e, "files": [f"{s:012d}-{e:012d}.jsonl"]} for s, e in shards]}
        (self.data / "index.json").write_text(json.dumps(index))

    def test_open_run_reads_records_in_index_order(self) -> None:
        self.write_index([(0, 2), (2, 5)], 5)
        run = longhaul.open_run(self.dir.name)
        self.assertEqual((len(run), run.format), (5, "jsonl"))
        self.assertEqual(list(run.items()), [(i, {"i": i}) for i in range(5)])

    def test_open_run_refuses_a_run_with_a_gap(self) -> None:
        self.write_index([(0, 2), (3, 5)], 4)
        with self.assertRaisesRegex(ValueError, "items 2–2 are missing"):
            longhaul.open_run(self.dir.name)


if __name__ == "__main__":
    unittest.main()
